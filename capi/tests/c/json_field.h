/* A tiny helper for the C test: copies the value of the first "key":value
 * pair in a JSON text. Enough for ids and versions in custdb's documents,
 * and it keeps the test free of dependencies; the examples (examples/c/)
 * read JSON with cJSON, as a real program would. */
#ifndef CUSTDB_JSON_FIELD_H
#define CUSTDB_JSON_FIELD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int json_field(const char *json, const char *key, char *out, size_t size) {
    char pattern[128];
    const char *at;
    size_t n = 0;
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    at = strstr(json, pattern);
    if (at == NULL) return 0;
    at += strlen(pattern);
    if (*at == '"') {
        at++;
        while (at[n] != '\0' && at[n] != '"' && n + 1 < size) n++;
    } else {
        while (at[n] != '\0' && at[n] != ',' && at[n] != '}' && n + 1 < size) n++;
    }
    memcpy(out, at, n);
    out[n] = '\0';
    return 1;
}

#endif
