// zlib (RFC 1950/1951) for the IETF Token Status List's compressed byte array.
#include <zlib.h>
