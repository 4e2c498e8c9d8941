/*
 * Reference for the codec benchmark: raw ISA-L ec_encode_data in a C loop,
 * with the same coefficient rows and shard length the Python binding uses.
 *
 *   isal_ec_ref K ROWS LEN SECONDS HEXCOEFFS
 *
 * HEXCOEFFS holds ROWS x K coefficients (row-major, hex). Prints the best
 * observed throughput in bytes of input per second (K * LEN per call).
 */
#include <isa-l/erasure_code.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: %s K ROWS LEN SECONDS HEXCOEFFS\n", argv[0]);
		return 2;
	}
	int k = atoi(argv[1]), rows = atoi(argv[2]), len = atoi(argv[3]);
	double seconds = atof(argv[4]);
	const char *hex = argv[5];
	if (k < 1 || rows < 1 || len < 1 || (int)strlen(hex) != 2 * k * rows) {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	unsigned char *coeffs = malloc(k * rows), *tables = malloc(32 * k * rows);
	for (int i = 0; i < k * rows; i++) {
		unsigned int v;
		sscanf(hex + 2 * i, "%2x", &v);
		coeffs[i] = (unsigned char)v;
	}
	ec_init_tables(k, rows, coeffs, tables);

	unsigned char *src[256], *dst[256];
	for (int i = 0; i < k; i++) {
		if (posix_memalign((void **)&src[i], 64, len))
			return 1;
		for (int j = 0; j < len; j++)
			src[i][j] = (unsigned char)rand();
	}
	for (int i = 0; i < rows; i++)
		if (posix_memalign((void **)&dst[i], 64, len))
			return 1;

	double best = 0, deadline = now() + seconds;
	do {
		int calls = 0;
		double start = now();
		while (now() - start < 0.05) {
			ec_encode_data(len, k, rows, tables, src, dst);
			calls++;
		}
		double rate = (double)calls * k * len / (now() - start);
		if (rate > best)
			best = rate;
	} while (now() < deadline);
	printf("%.0f\n", best);
	return 0;
}
