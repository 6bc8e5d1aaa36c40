#ifndef TESSERA_RESOURCES_H
#define TESSERA_RESOURCES_H

#include <stddef.h>

/// The OpenAPI 3.1 document (Sources/TesseraResources/openapi.json, written by
/// scripts/openapi/generate.py): its bytes, and their count in *length.
const unsigned char *tessera_openapi_json(size_t *length);

#endif
