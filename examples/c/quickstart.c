/* The C twin of examples/quickstart.rs: open (or create) a database file,
 * add three customers with an address and an interaction each (each
 * customer one unit of work: all three records or none), show a
 * stale-version conflict, search, check. Run it twice: the second run finds
 * the customers it made the first time.
 *
 * It reads custdb's JSON answers with cJSON (Debian: libcjson-dev).
 *
 *   cc -std=c11 -I capi/include examples/c/quickstart.c target/debug/libcustdb.a \
 *      -lcjson -lpthread -ldl -lm -o quickstart-c && ./quickstart-c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "custdb.h"

static int fail(custdb_store *db, const char *what, custdb_status status) {
    fprintf(stderr, "%s failed (%d): %s\n", what, (int)status,
            db != NULL ? custdb_errmsg(db) : custdb_last_error());
    custdb_close(db);
    return 1;
}

/* Reports a failure inside a unit of work and rolls the unit back. */
static int rollback_and_fail(custdb_store *db, const char *what, custdb_status status) {
    fprintf(stderr, "%s failed (%d): %s; rolling back\n", what, (int)status, custdb_errmsg(db));
    custdb_rollback(db);
    custdb_close(db);
    return 1;
}

/* Copies the text of field `key` of the JSON object custdb answered into
 * `out` (a string as it is, a number in its shortest form) and frees the
 * answer. */
static int take_field(char *json, const char *key, char *out, size_t size) {
    cJSON *doc = cJSON_Parse(json);
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(doc, key);
    int found = 1;
    if (cJSON_IsString(item)) {
        snprintf(out, size, "%s", item->valuestring);
    } else if (cJSON_IsNumber(item)) {
        snprintf(out, size, "%.0f", item->valuedouble);
    } else {
        found = 0;
    }
    cJSON_Delete(doc);
    custdb_string_free(json);
    return found;
}

struct seed {
    const char *name, *email, *phone, *country, *city, *street, *postcode;
};

static const struct seed SEED[] = {
    {"Ada Lovelace", "ada@example.com", "020 7946 0958", "GB", "London", "12 St James's Square", "SW1Y 4JH"},
    {"Grace Hopper", "grace@example.org", "(415) 555-2671", "US", "Arlington", "1 Navy Way", "22202"},
    {"\xc3\x89mile Borel", "emile.borel@example.fr", "01 23 45 67 89", "FR", "Paris", "45 rue d'Ulm", "75005"},
};

int main(void) {
    custdb_options *options = custdb_options_new();
    custdb_store *db = NULL;
    custdb_status rc;
    char ids[3][64];
    char json[1024];
    char *out = NULL;
    size_t i;

    custdb_options_set_actor(options, "quickstart-c", "C quickstart");
    rc = custdb_open("custdb-quickstart-c.db", options, &db);
    custdb_options_free(options);
    if (rc != CUSTDB_OK) return fail(NULL, "custdb_open", rc);
    printf("custdb %s, C quickstart\n", custdb_version());

    for (i = 0; i < 3; i++) {
        const struct seed *s = &SEED[i];
        rc = custdb_customer_get_by_email(db, s->email, &out);
        if (rc == CUSTDB_ERR_NOT_FOUND) {
            /* One unit of work across the three calls: if any fails, the
             * rollback leaves no customer without its address. */
            rc = custdb_begin(db);
            if (rc != CUSTDB_OK) return fail(db, "custdb_begin", rc);
            snprintf(json, sizeof json,
                     "{\"display_name\":\"%s\",\"email\":\"%s\",\"phone\":\"%s\","
                     "\"phone_country\":\"%s\",\"acquisition_source\":\"quickstart\"}",
                     s->name, s->email, s->phone, s->country);
            rc = custdb_customer_create(db, json, &out);
            if (rc != CUSTDB_OK) return rollback_and_fail(db, "custdb_customer_create", rc);
            take_field(out, "id", ids[i], sizeof ids[i]);
            snprintf(json, sizeof json,
                     "{\"kind\":\"billing\",\"line1\":\"%s\",\"city\":\"%s\","
                     "\"country\":\"%s\",\"postal_code\":\"%s\"}",
                     s->street, s->city, s->country, s->postcode);
            rc = custdb_customer_add_address(db, ids[i], json, &out);
            if (rc != CUSTDB_OK) return rollback_and_fail(db, "custdb_customer_add_address", rc);
            custdb_string_free(out);
            rc = custdb_customer_add_interaction(
                db, ids[i],
                "{\"channel\":\"web\",\"direction\":\"inbound\",\"kind\":\"sale\","
                "\"subject\":\"First order\"}",
                &out);
            if (rc != CUSTDB_OK) return rollback_and_fail(db, "custdb_customer_add_interaction", rc);
            custdb_string_free(out);
            rc = custdb_commit(db);
            if (rc != CUSTDB_OK) return fail(db, "custdb_commit", rc);
        } else if (rc == CUSTDB_OK) {
            take_field(out, "id", ids[i], sizeof ids[i]);
        } else {
            return fail(db, "custdb_customer_get_by_email", rc);
        }
        printf("customer %s: %s\n", ids[i], s->name);
    }

    /* Optimistic concurrency: two updates from the same version. */
    {
        char version[32];
        rc = custdb_customer_get(db, ids[1], &out);
        if (rc != CUSTDB_OK) return fail(db, "custdb_customer_get", rc);
        take_field(out, "version", version, sizeof version);
        snprintf(json, sizeof json, "{\"notes\":\"Called back at version %s\"}", version);
        rc = custdb_customer_update(db, ids[1], atoll(version), json, &out);
        if (rc != CUSTDB_OK) return fail(db, "custdb_customer_update", rc);
        custdb_string_free(out);
        rc = custdb_customer_update(db, ids[1], atoll(version), "{\"company\":\"US Navy\"}", &out);
        if (rc != CUSTDB_ERR_CONFLICT) return fail(db, "the stale update", rc);
        printf("conflict, as expected: %s\n", custdb_errmsg(db));
    }

    rc = custdb_customer_search(db, "grace hop", 5, &out);
    if (rc != CUSTDB_OK) return fail(db, "custdb_customer_search", rc);
    printf("search \"grace hop\": %s\n", strstr(out, "Grace Hopper") != NULL ? "found" : "missing");
    custdb_string_free(out);

    rc = custdb_check(db, &out);
    if (rc != CUSTDB_OK) return fail(db, "custdb_check", rc);
    printf("check: %s\n", strcmp(out, "[]") == 0 ? "ok" : out);
    custdb_string_free(out);
    custdb_close(db);
    return 0;
}
