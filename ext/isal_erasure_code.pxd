# Declarations from <isa-l/erasure_code.h> that liteio uses. Nothing else lives here.

cdef extern from "isa-l/erasure_code.h" nogil:
    void ec_init_tables(int k, int rows, unsigned char *a, unsigned char *gftbls)
    void ec_encode_data(int len, int k, int rows, unsigned char *gftbls,
                        unsigned char **data, unsigned char **coding)
    void ec_encode_data_update(int len, int k, int rows, int vec_i,
                               unsigned char *g_tbls, unsigned char *data,
                               unsigned char **coding)
    unsigned char gf_mul(unsigned char a, unsigned char b)
    unsigned char gf_inv(unsigned char a)
    int gf_invert_matrix(unsigned char *inp, unsigned char *out, const int n)
