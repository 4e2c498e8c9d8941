"""S3 operation handlers, one module per concern; each is ``async def (Request) -> None``."""
