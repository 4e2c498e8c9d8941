"""S3 front door: routing, authentication, handlers and the S3 error catalogue."""
