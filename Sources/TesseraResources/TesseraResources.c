// Files the server serves as they are, compiled into the binary with C23's #embed: no resource
// bundle to install beside the executable, and no multi-megabyte Swift literal (or SwiftPM's
// embedInCode byte array, whose type-checking takes minutes at this size) to compile.
#include "TesseraResources.h"

static const unsigned char openapi_json[] = {
#embed "openapi.json"
};

const unsigned char *tessera_openapi_json(size_t *length) {
    *length = sizeof(openapi_json);
    return openapi_json;
}
