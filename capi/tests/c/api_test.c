/* Calls every function of custdb.h, the error paths included: NULL
 * arguments, invalid UTF-8, unknown ids, a shortfall, a stale version, a
 * wrong state. Run by capi/tests/c_api.rs (linked statically and
 * dynamically) and by .ci/run under valgrind. Usage: api_test <scratch dir> */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custdb.h"
#include "json_field.h"

static int failures = 0;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            failures++;                                                      \
        }                                                                    \
    } while (0)

#define EXPECT(call, status)                                                    \
    do {                                                                        \
        custdb_status got_ = (call);                                            \
        if (got_ != (status)) {                                                 \
            fprintf(stderr, "%s:%d: %s returned %d, expected %d (%s)\n",        \
                    __FILE__, __LINE__, #call, (int)got_, (int)(status),        \
                    custdb_last_error());                                       \
            failures++;                                                         \
        }                                                                       \
    } while (0)

/* Takes a JSON result: checks a field is there, copies it out, frees. */
static void take(char **out, const char *key, char *value, size_t size) {
    CHECK(*out != NULL);
    if (*out == NULL) return;
    if (key != NULL) CHECK(json_field(*out, key, value, size));
    custdb_string_free(*out);
    *out = NULL;
}

/* Backup progress: counts the calls and keeps the last pages_copied. */
/* The version of a product: its own "version" comes after its variants'
   (the last in the text; media and categories carry none). Frees *out. */
static long long product_version(char **out) {
    const char *at = NULL, *next;
    long long version = -1;
    CHECK(*out != NULL);
    if (*out == NULL) return -1;
    for (next = strstr(*out, "\"version\":"); next != NULL; next = strstr(next + 1, "\"version\":"))
        at = next;
    CHECK(at != NULL);
    if (at != NULL) version = atoll(at + strlen("\"version\":"));
    custdb_string_free(*out);
    *out = NULL;
    return version;
}

static void count_progress(uint64_t pages_copied, uint64_t pages_total, void *user_data) {
    uint64_t *calls = (uint64_t *)user_data;
    (void)pages_total;
    calls[0]++;
    calls[1] = pages_copied;
}

/* Import callbacks: counts progress calls and rejections. */
static void count_import(uint64_t lines_read, uint64_t imported, uint64_t already_present, uint64_t rejected,
                         void *user_data) {
    uint64_t *counts = (uint64_t *)user_data;
    (void)lines_read; (void)imported; (void)already_present; (void)rejected;
    counts[0]++;
}

static void count_rejection(uint64_t line, const char *reason, void *user_data) {
    uint64_t *counts = (uint64_t *)user_data;
    (void)line;
    if (reason != NULL && strlen(reason) > 0) counts[1]++;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[512], backup[512], restored[512], bogus[512];
    char json[2048];
    char customer[64], other[64], version[32], variant[64], north[64], south[64];
    char order[64], order2[64], paid_order[64], cursor[128];
    char *out = NULL;
    char invalid_utf8[] = {'a', (char)0xff, 'b', 0};
    custdb_store *db = NULL, *copy = NULL;
    custdb_options *options;
    custdb_stock_level level;
    custdb_audit_verification verification;
    int64_t available = -1;
    int32_t allowed = -1;
    uint64_t pages = 0;
    FILE *f;

    snprintf(path, sizeof path, "%s/api.db", dir);
    snprintf(backup, sizeof backup, "%s/api-backup.db", dir);
    snprintf(restored, sizeof restored, "%s/api-restored.db", dir);
    snprintf(bogus, sizeof bogus, "%s/not-a-db.txt", dir);

    /* Library, options, opening. */
    CHECK(strlen(custdb_version()) > 0);
    custdb_options_free(NULL);
    custdb_close(NULL);
    custdb_string_free(NULL);
    CHECK(strcmp(custdb_errmsg(NULL), "") == 0);
    CHECK(custdb_errmsg_copy(NULL) == NULL);
    options = custdb_options_new();
    CHECK(options != NULL);
    EXPECT(custdb_options_set_durability(options, 7), CUSTDB_ERR_INVALID);
    CHECK(strstr(custdb_last_error(), "durability") != NULL);
    EXPECT(custdb_options_set_durability(NULL, CUSTDB_DURABILITY_FULL), CUSTDB_ERR_NULL_ARGUMENT);
    EXPECT(custdb_options_set_durability(options, CUSTDB_DURABILITY_NORMAL), CUSTDB_OK);
    EXPECT(custdb_options_set_durability(options, CUSTDB_DURABILITY_FULL), CUSTDB_OK);
    EXPECT(custdb_options_set_busy_timeout_ms(options, 2000), CUSTDB_OK);
    EXPECT(custdb_options_set_actor(options, invalid_utf8, "X"), CUSTDB_ERR_INVALID_UTF8);
    EXPECT(custdb_options_set_actor(options, "", "X"), CUSTDB_ERR_INVALID);
    EXPECT(custdb_options_set_actor(options, "c-test", NULL), CUSTDB_ERR_NULL_ARGUMENT);
    EXPECT(custdb_options_set_actor(options, "c-test", "C test"), CUSTDB_OK);
    EXPECT(custdb_open(NULL, options, &db), CUSTDB_ERR_NULL_ARGUMENT);
    EXPECT(custdb_open(path, options, NULL), CUSTDB_ERR_NULL_ARGUMENT);
    f = fopen(bogus, "w");
    CHECK(f != NULL);
    if (f) { fputs("this is not a database, just some text that is long enough\n", f); fclose(f); }
    EXPECT(custdb_open(bogus, NULL, &db), CUSTDB_ERR_NOT_A_DATABASE);
    CHECK(db == NULL);
    EXPECT(custdb_open("", NULL, &db), CUSTDB_ERR_INVALID);
    CHECK(strstr(custdb_last_error(), "empty") != NULL);
    EXPECT(custdb_open("file:api.db?mode=ro", NULL, &db), CUSTDB_ERR_INVALID);
    CHECK(strstr(custdb_last_error(), "URI") != NULL);
    EXPECT(custdb_open(":memory:", NULL, &db), CUSTDB_ERR_INVALID);
    CHECK(db == NULL);
    {
        custdb_options *keyed = custdb_options_new();
        custdb_store *enc = NULL;
        char enc_path[512];
        custdb_status s;
        snprintf(enc_path, sizeof enc_path, "%s/enc.db", dir);
        EXPECT(custdb_options_set_encryption_key(keyed, "secret"), CUSTDB_OK);
        s = custdb_open(enc_path, keyed, &enc);
        CHECK(s == CUSTDB_OK || s == CUSTDB_ERR_ENCRYPTION_UNAVAILABLE);
        custdb_close(enc);
        custdb_options_free(keyed);
    }
    {
        custdb_store *mem = NULL;
        EXPECT(custdb_open_in_memory(NULL, &mem), CUSTDB_OK);
        EXPECT(custdb_open_in_memory(NULL, NULL), CUSTDB_ERR_NULL_ARGUMENT);
        custdb_close(mem);
    }
    EXPECT(custdb_options_set_read_only(options, 2), CUSTDB_ERR_INVALID);
    EXPECT(custdb_options_set_group_commit(options, 2), CUSTDB_ERR_INVALID);
    EXPECT(custdb_options_set_group_commit(NULL, 1), CUSTDB_ERR_NULL_ARGUMENT);
    EXPECT(custdb_options_set_group_commit(options, 0), CUSTDB_OK);
    EXPECT(custdb_options_set_group_commit(options, 1), CUSTDB_OK);
    EXPECT(custdb_options_set_reader_pool_size(options, 2), CUSTDB_OK);
    EXPECT(custdb_options_set_max_size_bytes(options, 1024), CUSTDB_OK);
    EXPECT(custdb_open(path, options, &db), CUSTDB_ERR_INVALID); /* below the 1 MiB floor */
    CHECK(strstr(custdb_last_error(), "max_size") != NULL);
    EXPECT(custdb_options_set_max_size_bytes(options, 1024u * 1024u * 1024u), CUSTDB_OK);
    EXPECT(custdb_open(path, options, &db), CUSTDB_OK);
    custdb_options_free(options);
    if (db == NULL) return 1;

    /* Customers. */
    EXPECT(custdb_customer_create(NULL, "{}", &out), CUSTDB_ERR_NULL_ARGUMENT);
    EXPECT(custdb_customer_create(db, "{not json", &out), CUSTDB_ERR_JSON);
    CHECK(strstr(custdb_errmsg(db), "JSON") != NULL);
    EXPECT(custdb_customer_create(db, "{\"display_name\":\"A\",\"email\":\"nope\"}", &out), CUSTDB_ERR_INVALID);
    CHECK(strstr(custdb_errmsg(db), "email") != NULL);
    {
        char *copy_msg = custdb_errmsg_copy(db);
        CHECK(copy_msg != NULL && strstr(copy_msg, "email") != NULL);
        custdb_string_free(copy_msg);
    }
    EXPECT(custdb_customer_create(db, invalid_utf8, &out), CUSTDB_ERR_INVALID_UTF8);
    EXPECT(custdb_customer_create(db, "{\"display_name\":\"Ann Lee\",\"email\":\"ann@example.com\",\"tags\":[\"vip\"]}", NULL),
           CUSTDB_ERR_NULL_ARGUMENT);
    CHECK(out == NULL); /* outputs are written only on success */
    EXPECT(custdb_customer_create(db, "{\"display_name\":\"Ann Lee\",\"email\":\"ann@example.com\",\"tags\":[\"vip\"]}", &out),
           CUSTDB_OK);
    take(&out, "id", customer, sizeof customer);
    EXPECT(custdb_customer_create(db, "{\"display_name\":\"Other\",\"email\":\"ann@example.com\"}", &out),
           CUSTDB_ERR_ALREADY_EXISTS);
    EXPECT(custdb_customer_create(db, "{\"display_name\":\"Bob\",\"phone\":\"+44 20 7946 0958\"}", &out), CUSTDB_OK);
    take(&out, "id", other, sizeof other);
    EXPECT(custdb_customer_get(db, customer, &out), CUSTDB_OK);
    take(&out, "version", version, sizeof version);
    EXPECT(custdb_customer_get(db, "not-an-id", &out), CUSTDB_ERR_INVALID);
    EXPECT(custdb_customer_get(db, "01900000-0000-7000-8000-000000000000", &out), CUSTDB_ERR_NOT_FOUND);
    EXPECT(custdb_customer_get_by_email(db, "ANN@example.com", &out), CUSTDB_OK);
    take(&out, "id", cursor, sizeof cursor);
    CHECK(strcmp(cursor, customer) == 0);
    EXPECT(custdb_customer_get_by_email(db, "nobody@example.com", &out), CUSTDB_ERR_NOT_FOUND);
    EXPECT(custdb_customer_update(db, customer, atoll(version), "{\"company\":\"Lee Ltd\"}", &out), CUSTDB_OK);
    take(&out, "company", json, sizeof json);
    CHECK(strcmp(json, "Lee Ltd") == 0);
    EXPECT(custdb_customer_update(db, customer, atoll(version), "{\"company\":\"Stale\"}", &out), CUSTDB_ERR_CONFLICT);
    EXPECT(custdb_customer_update(db, customer, 99, "[1,2]", &out), CUSTDB_ERR_JSON);
    EXPECT(custdb_customer_search(db, "ann", 10, &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "Ann Lee") != NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_customer_search(db, "ann", 0, &out), CUSTDB_ERR_INVALID);
    EXPECT(custdb_customer_add_address(db, customer,
               "{\"kind\":\"shipping\",\"line1\":\"1 High St\",\"city\":\"Bath\",\"country\":\"GB\"}", &out),
           CUSTDB_OK);
    take(&out, "id", json, sizeof json);
    EXPECT(custdb_customer_add_address(db, customer,
               "{\"kind\":\"shipping\",\"line1\":\"1 High St\",\"city\":\"Bath\",\"country\":\"XX\"}", &out),
           CUSTDB_ERR_INVALID);
    EXPECT(custdb_customer_addresses(db, customer, &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "High St") != NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_customer_add_interaction(db, customer,
               "{\"channel\":\"phone\",\"direction\":\"inbound\",\"kind\":\"support\",\"subject\":\"Hello\"}", &out),
           CUSTDB_OK);
    take(&out, "id", json, sizeof json);
    EXPECT(custdb_customer_add_interaction(db, customer, "{\"channel\":\"pigeon\"}", &out), CUSTDB_ERR_JSON);
    EXPECT(custdb_customer_interactions(db, customer, NULL, 10, &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "\"items\"") != NULL && strstr(out, "Hello") != NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_customer_interactions(db, customer, "bad cursor", 10, &out), CUSTDB_ERR_INVALID);
    EXPECT(custdb_customer_archive(db, other, &out), CUSTDB_OK);
    take(&out, "archived_at", json, sizeof json);
    EXPECT(custdb_customer_update(db, other, 2, "{\"company\":\"X\"}", &out), CUSTDB_ERR_INVALID_STATE);
    EXPECT(custdb_customer_list(db, NULL, NULL, 10, &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "Ann Lee") != NULL && strstr(out, "Bob") == NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_customer_list(db, "{\"archived\":\"archived\"}", NULL, 10, &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "Bob") != NULL && strstr(out, "Ann Lee") == NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_customer_list(db, "{\"archived\":\"all\",\"tag\":\"vip\"}", NULL, 10, &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "Ann Lee") != NULL && strstr(out, "Bob") == NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_customer_list(db, "{\"archived\":\"all\"}", NULL, 1, &out), CUSTDB_OK);
    CHECK(out != NULL && json_field(out, "next_cursor", cursor, sizeof cursor));
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_customer_list(db, "{\"archived\":\"all\"}", cursor, 1, &out), CUSTDB_OK);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_customer_list(db, "{\"tagz\":\"vip\"}", NULL, 10, &out), CUSTDB_ERR_JSON);
    CHECK(strstr(custdb_errmsg(db), "tagz") != NULL);
    EXPECT(custdb_customer_list(db, "[\"vip\"]", NULL, 10, &out), CUSTDB_ERR_JSON);
    EXPECT(custdb_customer_list(db, NULL, NULL, 1001, &out), CUSTDB_ERR_INVALID);
    snprintf(json, sizeof json, "[\"%s\",\"%s\",\"01900000-0000-7000-8000-000000000000\"]", customer, other);
    EXPECT(custdb_customer_get_many(db, json, &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "Ann Lee") != NULL && strstr(out, "Bob") != NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_customer_get_many(db, "[\"not-an-id\"]", &out), CUSTDB_ERR_JSON);
    EXPECT(custdb_customer_search_page(db, "ann", NULL, 10, &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "Ann Lee") != NULL && strstr(out, "\"next_cursor\":null") != NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_customer_restore(db, other, &out), CUSTDB_OK);
    take(&out, "archived_at", json, sizeof json);
    CHECK(strcmp(json, "null") == 0);
    EXPECT(custdb_customer_add_tags(db, other, "[\"wholesale\",\"north\"]", &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "wholesale") != NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_customer_add_tags(db, other, "{\"tag\":\"x\"}", &out), CUSTDB_ERR_JSON);
    EXPECT(custdb_customer_remove_tags(db, other, "[\"north\",\"never-had\"]", &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "north") == NULL && strstr(out, "wholesale") != NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_customer_add_address(db, other,
               "{\"kind\":\"billing\",\"line1\":\"2 Low Rd\",\"city\":\"York\",\"country\":\"GB\"}", &out),
           CUSTDB_OK);
    {
        char address[64], second[64];
        take(&out, "id", address, sizeof address);
        EXPECT(custdb_address_get(db, address, &out), CUSTDB_OK);
        take(&out, "city", json, sizeof json);
        CHECK(strcmp(json, "York") == 0);
        EXPECT(custdb_address_update(db, address, "{\"city\":\"Leeds\",\"postal_code\":\"LS1 1AA\"}", &out), CUSTDB_OK);
        take(&out, "city", json, sizeof json);
        CHECK(strcmp(json, "Leeds") == 0);
        EXPECT(custdb_address_update(db, address, "{\"postal_code\":null}", &out), CUSTDB_OK);
        take(&out, "postal_code", json, sizeof json);
        CHECK(strcmp(json, "null") == 0); /* null clears an optional field */
        EXPECT(custdb_address_update(db, address, "{\"cty\":\"Leeds\"}", &out), CUSTDB_ERR_JSON);
        EXPECT(custdb_customer_add_address(db, other,
                   "{\"kind\":\"billing\",\"line1\":\"3 Mill Ln\",\"city\":\"Hull\",\"country\":\"GB\"}", &out),
               CUSTDB_OK);
        take(&out, "id", second, sizeof second);
        EXPECT(custdb_address_set_default(db, second, &out), CUSTDB_OK);
        take(&out, "is_default", json, sizeof json);
        CHECK(strcmp(json, "true") == 0);
        EXPECT(custdb_address_delete(db, address), CUSTDB_OK);
        EXPECT(custdb_address_delete(db, address), CUSTDB_ERR_NOT_FOUND);
        EXPECT(custdb_address_get(db, address, &out), CUSTDB_ERR_NOT_FOUND);
    }

    /* Units of work across calls: both customers or neither. */
    {
        char first[64];
        EXPECT(custdb_commit(db), CUSTDB_ERR_INVALID_STATE);
        EXPECT(custdb_rollback(db), CUSTDB_ERR_INVALID_STATE);
        EXPECT(custdb_begin(NULL), CUSTDB_ERR_NULL_ARGUMENT);
        EXPECT(custdb_begin(db), CUSTDB_OK);
        EXPECT(custdb_begin(db), CUSTDB_ERR_INVALID_STATE);
        EXPECT(custdb_customer_create(db, "{\"display_name\":\"Unit One\",\"email\":\"unit1@example.com\"}", &out),
               CUSTDB_OK);
        take(&out, "id", first, sizeof first);
        /* Reads inside the unit see its writes. */
        EXPECT(custdb_customer_get(db, first, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        /* A failing call undoes only itself; the unit goes on. */
        EXPECT(custdb_customer_add_address(db, first,
                   "{\"kind\":\"shipping\",\"line1\":\"1 A St\",\"city\":\"Bath\",\"country\":\"Narnia\"}", &out),
               CUSTDB_ERR_INVALID);
        EXPECT(custdb_check(db, &out), CUSTDB_ERR_REENTRANT);
        EXPECT(custdb_rollback(db), CUSTDB_OK);
        EXPECT(custdb_customer_get(db, first, &out), CUSTDB_ERR_NOT_FOUND);
        EXPECT(custdb_customer_get_by_email(db, "unit1@example.com", &out), CUSTDB_ERR_NOT_FOUND);

        EXPECT(custdb_begin(db), CUSTDB_OK);
        EXPECT(custdb_customer_create(db, "{\"display_name\":\"Unit Two\",\"email\":\"unit2@example.com\"}", &out),
               CUSTDB_OK);
        take(&out, "id", first, sizeof first);
        EXPECT(custdb_customer_add_address(db, first,
                   "{\"kind\":\"shipping\",\"line1\":\"1 A St\",\"city\":\"Bath\",\"country\":\"GB\"}", &out),
               CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_commit(db), CUSTDB_OK);
        EXPECT(custdb_customer_addresses(db, first, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "1 A St") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_commit(db), CUSTDB_ERR_INVALID_STATE);
        /* A unit left open is rolled back by custdb_close (below, on another handle). */
        {
            custdb_store *side = NULL;
            char side_path[600];
            snprintf(side_path, sizeof side_path, "%s/side.db", dir);
            EXPECT(custdb_open(side_path, NULL, &side), CUSTDB_OK);
            EXPECT(custdb_begin(side), CUSTDB_OK);
            EXPECT(custdb_customer_create(side, "{\"display_name\":\"Never\"}", &out), CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            custdb_close(side);
            side = NULL;
            EXPECT(custdb_open(side_path, NULL, &side), CUSTDB_OK);
            EXPECT(custdb_customer_list(side, NULL, NULL, 10, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "Never") == NULL);
            take(&out, NULL, NULL, 0);
            custdb_close(side);
        }
    }

    /* Catalog and stock. */
    EXPECT(custdb_product_create(db,
               "{\"name\":\"Tea\",\"variants\":[{\"sku\":\"TEA\",\"price\":\"4.50\",\"currency\":\"GBP\"}]}", &out),
           CUSTDB_OK);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_product_create(db,
               "{\"name\":\"Bad\",\"variants\":[{\"sku\":\"BAD\",\"price\":\"1.000001\",\"currency\":\"GBP\"}]}", &out),
           CUSTDB_ERR_INVALID);
    EXPECT(custdb_variant_get_by_sku(db, "TEA", &out), CUSTDB_OK);
    take(&out, "id", variant, sizeof variant);
    EXPECT(custdb_variant_get_by_sku(db, "NOPE", &out), CUSTDB_ERR_NOT_FOUND);
    EXPECT(custdb_warehouse_create(db, "{\"code\":\"N\",\"name\":\"North\",\"priority\":1}", &out), CUSTDB_OK);
    take(&out, "id", north, sizeof north);
    EXPECT(custdb_warehouse_create(db, "{\"code\":\"S\",\"name\":\"South\",\"priority\":2}", &out), CUSTDB_OK);
    take(&out, "id", south, sizeof south);
    EXPECT(custdb_stock_receive(db, variant, north, 10, &out), CUSTDB_OK);
    take(&out, "kind", json, sizeof json);
    CHECK(strcmp(json, "receipt") == 0);
    EXPECT(custdb_stock_receive(db, variant, "01900000-0000-7000-8000-000000000000", 10, &out), CUSTDB_ERR_NOT_FOUND);
    EXPECT(custdb_stock_receive(db, variant, north, 0, &out), CUSTDB_ERR_INVALID);
    EXPECT(custdb_stock_adjust(db, variant, north, -1, "breakage", &out), CUSTDB_OK);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_stock_adjust(db, variant, north, -100, "too much", &out), CUSTDB_ERR_SHORTFALL);
    EXPECT(custdb_stock_transfer(db, variant, north, south, 2, &out), CUSTDB_OK);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_stock_transfer(db, variant, north, north, 2, &out), CUSTDB_ERR_INVALID);
    EXPECT(custdb_stock_available(db, variant, &available), CUSTDB_OK);
    CHECK(available == 9);
    EXPECT(custdb_stock_available(db, variant, NULL), CUSTDB_ERR_NULL_ARGUMENT);
    EXPECT(custdb_stock_level_get(db, variant, south, &level), CUSTDB_OK);
    CHECK(level.on_hand == 2 && level.reserved == 0 && level.available == 2);
    EXPECT(custdb_stock_level_get(db, variant, NULL, &level), CUSTDB_ERR_NULL_ARGUMENT);
    {
        char product[64], mug[64], hold[64];
        uint64_t released = 99;
        EXPECT(custdb_variant_get(db, variant, &out), CUSTDB_OK);
        take(&out, "product_id", product, sizeof product);
        EXPECT(custdb_product_get(db, product, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "\"TEA\"") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_product_get(db, variant, &out), CUSTDB_ERR_NOT_FOUND);
        EXPECT(custdb_product_list(db, "active", NULL, 10, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "Tea") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_product_list(db, "\"active\"", NULL, 10, &out), CUSTDB_ERR_INVALID);
        EXPECT(custdb_product_add_variant(db, product,
                   "{\"sku\":\"TEA-BIG\",\"price\":\"9.00\",\"currency\":\"GBP\",\"barcode\":\"5012345678900\"}", &out),
               CUSTDB_OK);
        take(&out, "id", mug, sizeof mug);
        EXPECT(custdb_product_add_variant(db, product, "{\"sku\":\"TEA\",\"price\":\"1.00\",\"currency\":\"GBP\"}", &out),
               CUSTDB_ERR_ALREADY_EXISTS);
        EXPECT(custdb_variant_get_by_barcode(db, "5012345678900", &out), CUSTDB_OK);
        take(&out, "sku", json, sizeof json);
        CHECK(strcmp(json, "TEA-BIG") == 0);
        EXPECT(custdb_product_variants(db, product, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "TEA-BIG") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_variant_update(db, mug, 1, "{\"price\":\"8.5\"}", &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "\"8.50\"") != NULL); /* minor units in money out */
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_variant_update(db, mug, 1, "{\"price\":\"8.00\"}", &out), CUSTDB_ERR_CONFLICT);
        EXPECT(custdb_variant_update(db, mug, 2, "{\"price\":8}", &out), CUSTDB_ERR_JSON);
        CHECK(strstr(custdb_errmsg(db), "price") != NULL);
        /* Amounts are plain decimal text: no exponent, no plus sign. */
        EXPECT(custdb_variant_update(db, mug, 2, "{\"price\":\"1e1\"}", &out), CUSTDB_ERR_JSON);
        CHECK(strstr(custdb_errmsg(db), "price") != NULL && strstr(custdb_errmsg(db), "exponent") != NULL);
        EXPECT(custdb_variant_update(db, mug, 2, "{\"price\":\"+1.00\"}", &out), CUSTDB_ERR_JSON);
        EXPECT(custdb_variant_update(db, mug, 2, "{\"price\":\" 1.00\"}", &out), CUSTDB_ERR_JSON);
        EXPECT(custdb_order_pay(db, variant, "{\"method\":\"card\",\"amount\":\"1E2\"}", &out), CUSTDB_ERR_JSON);
        EXPECT(custdb_variant_archive(db, mug, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_product_create(db,
                   "{\"name\":\"Old Mug\",\"variants\":[{\"sku\":\"MUG-OLD\",\"price\":\"3.00\",\"currency\":\"GBP\"}]}", &out),
               CUSTDB_OK);
        take(&out, "id", hold, sizeof hold);
        EXPECT(custdb_product_archive(db, hold, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_product_list(db, "archived", NULL, 10, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "Old Mug") != NULL && strstr(out, "\"Tea\"") == NULL);
        take(&out, NULL, NULL, 0);

        /* The rest of the catalog: edits, restore, media, categories,
           collections, search. */
        {
            char version[32], media[64], drinks[64], tea_cat[64], picks[64], ids[160], cur[256];
            long long product_v;
            EXPECT(custdb_product_get(db, product, &out), CUSTDB_OK);
            product_v = product_version(&out);
            EXPECT(custdb_product_update(db, product, product_v,
                       "{\"description\":\"Loose leaf\",\"status\":\"draft\"}", &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "\"draft\"") != NULL);
            product_v = product_version(&out);
            EXPECT(custdb_product_update(db, product, 1, "{\"name\":\"X\"}", &out), CUSTDB_ERR_CONFLICT);
            EXPECT(custdb_product_update(db, product, product_v, "{\"status\":\"sold\"}", &out),
                   CUSTDB_ERR_JSON);
            EXPECT(custdb_product_update(db, product, product_v, "{\"status\":\"active\"}", &out),
                   CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_product_restore(db, hold, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "\"archived_at\":null") != NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_variant_restore(db, mug, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "\"archived_at\":null") != NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_product_add_media(db, product,
                       "{\"kind\":\"image\",\"reference\":\"https://cdn.example.com/tea.jpg\",\"alt_text\":\"Tin\"}",
                       &out), CUSTDB_OK);
            take(&out, "id", media, sizeof media);
            EXPECT(custdb_product_add_media(db, product, "{\"kind\":\"image\",\"reference\":\"\"}", &out),
                   CUSTDB_ERR_INVALID);
            CHECK(strstr(custdb_errmsg(db), "reference") != NULL);
            EXPECT(custdb_product_remove_media(db, media, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "tea.jpg") == NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_product_remove_media(db, media, &out), CUSTDB_ERR_NOT_FOUND);

            EXPECT(custdb_category_create(db, "{\"name\":\"Drinks\"}", &out), CUSTDB_OK);
            take(&out, "id", drinks, sizeof drinks);
            snprintf(json, sizeof json, "{\"name\":\"Tea\",\"parent_id\":\"%s\"}", drinks);
            EXPECT(custdb_category_create(db, json, &out), CUSTDB_OK);
            take(&out, "id", tea_cat, sizeof tea_cat);
            EXPECT(custdb_category_create(db, json, &out), CUSTDB_ERR_ALREADY_EXISTS);
            EXPECT(custdb_category_get(db, tea_cat, &out), CUSTDB_OK);
            take(&out, "depth", version, sizeof version);
            CHECK(strcmp(version, "1") == 0);
            snprintf(json, sizeof json, "{\"parent_id\":\"%s\"}", tea_cat);
            EXPECT(custdb_category_update(db, drinks, 1, json, &out), CUSTDB_ERR_INVALID);
            CHECK(strstr(custdb_errmsg(db), "parent_id") != NULL);
            EXPECT(custdb_category_update(db, drinks, 1, "{\"name\":\"Beverages\"}", &out), CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_category_list(db, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "Beverages") != NULL);
            take(&out, NULL, NULL, 0);
            snprintf(ids, sizeof ids, "[\"%s\"]", tea_cat);
            EXPECT(custdb_product_set_categories(db, product, ids, &out), CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_product_set_categories(db, product, "[\"nope\"]", &out), CUSTDB_ERR_JSON);
            EXPECT(custdb_category_products(db, drinks, 1, NULL, 10, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "TEA-BIG") != NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_category_products(db, drinks, 0, NULL, 10, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "TEA-BIG") == NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_product_search(db, "beverages", NULL, 10, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "Loose leaf") != NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_product_search(db, "5012345678900", NULL, 10, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "TEA-BIG") != NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_product_search(db, "  ", NULL, 10, &out), CUSTDB_ERR_INVALID);
            EXPECT(custdb_product_search(db, "tea", "not a cursor", 10, &out), CUSTDB_ERR_INVALID);
            EXPECT(custdb_category_delete(db, drinks), CUSTDB_ERR_INVALID_STATE);
            EXPECT(custdb_category_delete(db, tea_cat), CUSTDB_OK);
            EXPECT(custdb_category_get(db, tea_cat, &out), CUSTDB_ERR_NOT_FOUND);

            EXPECT(custdb_collection_create(db, "{\"name\":\"Picks\"}", &out), CUSTDB_OK);
            take(&out, "id", picks, sizeof picks);
            EXPECT(custdb_collection_create(db, "{\"name\":\"Picks\"}", &out), CUSTDB_ERR_ALREADY_EXISTS);
            EXPECT(custdb_collection_add_product(db, picks, hold, &out), CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_collection_add_product(db, picks, product, &out), CUSTDB_OK);
            take(&out, "product_count", version, sizeof version);
            CHECK(strcmp(version, "2") == 0);
            EXPECT(custdb_collection_products(db, picks, NULL, 1, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "Old Mug") != NULL && json_field(out, "next_cursor", cur, sizeof cur));
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_collection_products(db, picks, cur, 1, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "TEA-BIG") != NULL);
            take(&out, NULL, NULL, 0);
            snprintf(ids, sizeof ids, "[\"%s\"]", product);
            EXPECT(custdb_collection_set_products(db, picks, ids, &out), CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_collection_remove_product(db, picks, product, &out), CUSTDB_OK);
            take(&out, "version", version, sizeof version);
            EXPECT(custdb_collection_update(db, picks, atoll(version), "{\"description\":\"Ours\"}", &out),
                   CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_collection_get(db, picks, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "Ours") != NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_collection_list(db, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "Picks") != NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_collection_delete(db, picks), CUSTDB_OK);
            EXPECT(custdb_collection_delete(db, picks), CUSTDB_ERR_NOT_FOUND);
            EXPECT(custdb_product_archive(db, hold, &out), CUSTDB_OK);
            take(&out, NULL, NULL, 0);
        }

        /* Prices and tax: a class, a rate, a group, a list, a quote. */
        {
            char group[64], list[64], rate[64];
            EXPECT(custdb_tax_class_define(db, "reduced", "Reduced rate", &out), CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_tax_class_define(db, "Reduced", "Bad key", &out), CUSTDB_ERR_INVALID);
            EXPECT(custdb_tax_class_list(db, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "standard") != NULL && strstr(out, "reduced") != NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_tax_rate_set(db, "{\"country\":\"GB\",\"rate\":\"0.2\",\"name\":\"VAT\"}", &out),
                   CUSTDB_OK);
            take(&out, "id", rate, sizeof rate);
            EXPECT(custdb_tax_rate_set(db, "{\"country\":\"GB\",\"rate\":\"1.5\",\"name\":\"VAT\"}", &out),
                   CUSTDB_ERR_INVALID);
            CHECK(strstr(custdb_errmsg(db), "rate") != NULL);
            EXPECT(custdb_tax_rate_set(db, "{\"country\":\"GB\",\"rate\":0.2,\"name\":\"VAT\"}", &out),
                   CUSTDB_ERR_JSON);
            EXPECT(custdb_tax_rate_list(db, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "\"0.2\"") != NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_customer_group_create(db, "trade", "Trade", &out), CUSTDB_OK);
            take(&out, "id", group, sizeof group);
            EXPECT(custdb_customer_group_create(db, "trade", "Again", &out), CUSTDB_ERR_ALREADY_EXISTS);
            EXPECT(custdb_customer_group_list(db, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "Trade") != NULL);
            take(&out, NULL, NULL, 0);
            snprintf(json, sizeof json,
                     "{\"key\":\"trade\",\"name\":\"Trade\",\"currency\":\"GBP\",\"customer_group_id\":\"%s\"}",
                     group);
            EXPECT(custdb_price_list_create(db, json, &out), CUSTDB_OK);
            take(&out, "id", list, sizeof list);
            EXPECT(custdb_price_list_create(db,
                       "{\"key\":\"shelf\",\"name\":\"Shelf\",\"currency\":\"GBP\",\"prices_include_tax\":true}",
                       &out), CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_price_list_create(db, "{\"key\":\"again\",\"name\":\"Overlaps\",\"currency\":\"GBP\"}",
                       &out), CUSTDB_ERR_INVALID);
            CHECK(strstr(custdb_errmsg(db), "valid_from") != NULL);
            EXPECT(custdb_price_list_get(db, list, &out), CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_price_list_list(db, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "shelf") != NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_price_list_set_price(db, list, mug, 1, "7.50", &out), CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_price_list_set_price(db, list, mug, 10, "7.00", &out), CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_price_list_set_price(db, list, mug, 1, "1e1", &out), CUSTDB_ERR_INVALID);
            EXPECT(custdb_price_list_set_price(db, list, mug, 0, "1", &out), CUSTDB_ERR_INVALID);
            EXPECT(custdb_price_list_prices(db, list, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "\"7.00\"") != NULL);
            take(&out, NULL, NULL, 0);
            snprintf(json, sizeof json,
                     "{\"variant_id\":\"%s\",\"quantity\":12,\"currency\":\"GBP\",\"country\":\"GB\","
                     "\"customer_group_ids\":[\"%s\"]}",
                     mug, group);
            EXPECT(custdb_price_quote(db, json, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "\"84.00\"") != NULL && strstr(out, "\"100.80\"") != NULL);
            take(&out, "explanation", json, sizeof json);
            CHECK(strstr(json, "from price list") != NULL);
            EXPECT(custdb_price_quote(db, "{\"quantity\":1}", &out), CUSTDB_ERR_JSON);
            EXPECT(custdb_price_list_remove_price(db, list, mug, 10), CUSTDB_OK);
            EXPECT(custdb_price_list_remove_price(db, list, mug, 10), CUSTDB_ERR_NOT_FOUND);
            EXPECT(custdb_price_list_delete(db, list), CUSTDB_OK);
            EXPECT(custdb_price_list_get(db, list, &out), CUSTDB_ERR_NOT_FOUND);
            /* The customer in the group, then exempt from tax. */
            EXPECT(custdb_customer_group_add_member(db, group, customer, "2020-01-01T00:00:00Z", NULL, &out),
                   CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_customer_group_add_member(db, group, customer, "2020-01-01T00:00:00Z",
                       "2019-01-01T00:00:00Z", &out), CUSTDB_ERR_INVALID);
            EXPECT(custdb_customer_group_memberships(db, customer, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, group) != NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_customer_group_remove_member(db, group, customer), CUSTDB_OK);
            EXPECT(custdb_customer_tax_exemption_set(db, customer,
                       "{\"vat_id\":\"GB 123 456 789\",\"reason\":\"Reverse charge\"}", &out), CUSTDB_OK);
            take(&out, "vat_id", json, sizeof json);
            CHECK(strcmp(json, "GB123456789") == 0);
            EXPECT(custdb_customer_tax_exemption_get(db, customer, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "Reverse charge") != NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_customer_tax_exemption_set(db, customer, NULL, &out), CUSTDB_OK);
            CHECK(out != NULL && strcmp(out, "null") == 0);
            take(&out, NULL, NULL, 0);
            /* An order priced by the catalog takes no prices from the caller. */
            snprintf(json, sizeof json,
                     "{\"customer_id\":\"%s\",\"currency\":\"GBP\",\"pricing\":\"catalog\","
                     "\"lines\":[{\"sku\":\"TEA-BIG\",\"quantity\":1,\"unit_price\":\"1.00\"}]}",
                     customer);
            EXPECT(custdb_order_place(db, json, &out), CUSTDB_ERR_INVALID);
            CHECK(strstr(custdb_errmsg(db), "unit_price") != NULL);
            /* A promotion with a coupon, used by an order priced by the catalog. */
            {
                char promotion[64], placed[64];
                EXPECT(custdb_promotion_create(db,
                           "{\"key\":\"ten\",\"name\":\"Ten off\",\"requires_coupon\":true,"
                           "\"effect\":{\"kind\":\"percent_off_order\",\"percent\":\"10\"}}", &out),
                       CUSTDB_OK);
                take(&out, "id", promotion, sizeof promotion);
                EXPECT(custdb_promotion_create(db,
                           "{\"key\":\"bad\",\"name\":\"Bad\",\"effect\":{\"kind\":\"percent_off_order\","
                           "\"percent\":\"101\"}}", &out), CUSTDB_ERR_INVALID);
                CHECK(strstr(custdb_errmsg(db), "effect.percent") != NULL);
                EXPECT(custdb_promotion_create(db, "{\"key\":\"j\",\"name\":\"J\",\"effect\":{\"kind\":\"nope\"}}",
                           &out), CUSTDB_ERR_JSON);
                snprintf(json, sizeof json, "{\"code\":\"c-ten\",\"promotion_id\":\"%s\",\"usage_limit\":1}",
                         promotion);
                EXPECT(custdb_coupon_create(db, json, &out), CUSTDB_OK);
                take(&out, "code", json, sizeof json);
                CHECK(strcmp(json, "C-TEN") == 0);
                EXPECT(custdb_coupon_set_active(db, "C-TEN", 0, &out), CUSTDB_OK);
                take(&out, "active", json, sizeof json);
                CHECK(strcmp(json, "false") == 0);
                EXPECT(custdb_coupon_set_active(db, "c-ten", 1, &out), CUSTDB_OK);
                take(&out, NULL, NULL, 0);
                EXPECT(custdb_promotion_set_active(db, promotion, 1, &out), CUSTDB_OK);
                take(&out, NULL, NULL, 0);
                EXPECT(custdb_promotion_list(db, &out), CUSTDB_OK);
                CHECK(out != NULL && strstr(out, "Ten off") != NULL);
                take(&out, NULL, NULL, 0);
                snprintf(json, sizeof json,
                         "{\"customer_id\":\"%s\",\"currency\":\"GBP\",\"pricing\":\"catalog\","
                         "\"coupon\":\"%s\",\"shipping_address\":{\"line1\":\"1 High St\",\"city\":\"York\","
                         "\"country\":\"GB\"},\"lines\":[{\"sku\":\"TEA\",\"quantity\":1}]}",
                         customer, "NOPE");
                EXPECT(custdb_order_place(db, json, &out), CUSTDB_ERR_INVALID);
                CHECK(strstr(custdb_errmsg(db), "coupon") != NULL);
                snprintf(json, sizeof json,
                         "{\"customer_id\":\"%s\",\"currency\":\"GBP\",\"pricing\":\"catalog\","
                         "\"coupon\":\"%s\",\"shipping_address\":{\"line1\":\"1 High St\",\"city\":\"York\","
                         "\"country\":\"GB\"},\"lines\":[{\"sku\":\"TEA\",\"quantity\":1}]}",
                         customer, "c-ten");
                EXPECT(custdb_order_place(db, json, &out), CUSTDB_OK);
                take(&out, "id", placed, sizeof placed);
                EXPECT(custdb_order_redemptions(db, placed, &out), CUSTDB_OK);
                CHECK(out != NULL && strstr(out, "\"C-TEN\"") != NULL);
                take(&out, NULL, NULL, 0);
                EXPECT(custdb_coupon_get(db, "C-TEN", &out), CUSTDB_OK);
                take(&out, "uses", json, sizeof json);
                CHECK(strcmp(json, "1") == 0);
                EXPECT(custdb_order_cancel(db, placed, "a test"), CUSTDB_OK);
                EXPECT(custdb_coupon_get(db, "C-TEN", &out), CUSTDB_OK);
                take(&out, "uses", json, sizeof json);
                CHECK(strcmp(json, "0") == 0);
                EXPECT(custdb_coupon_get(db, "NOPE", &out), CUSTDB_ERR_NOT_FOUND);
            }
            /* A gift card pays an order; its refund goes back onto the card. */
            {
                char card[64], paid_by_card[64];
                EXPECT(custdb_gift_card_issue(db, "{\"code\":\"GIFT-0000-0042\",\"currency\":\"GBP\",\"amount\":\"50\"}",
                           &out), CUSTDB_OK);
                CHECK(out != NULL && strstr(out, "\"GIFT00000042\"") != NULL);
                take(&out, "id", card, sizeof card);
                EXPECT(custdb_gift_card_issue(db, "{\"code\":\"gift 0000 0042\",\"currency\":\"GBP\",\"amount\":\"5\"}",
                           &out), CUSTDB_ERR_ALREADY_EXISTS);
                EXPECT(custdb_gift_card_issue(db, "{\"currency\":\"GBP\",\"amount\":\"0\"}", &out), CUSTDB_ERR_INVALID);
                EXPECT(custdb_gift_card_get_by_code(db, "gift-0000-0042", &out), CUSTDB_OK);
                take(&out, "code_last4", json, sizeof json);
                CHECK(strcmp(json, "0042") == 0);
                EXPECT(custdb_gift_card_get_by_code(db, "NOPE-NOPE-NOPE", &out), CUSTDB_ERR_NOT_FOUND);
                snprintf(json, sizeof json,
                         "{\"customer_id\":\"%s\",\"currency\":\"GBP\","
                         "\"lines\":[{\"sku\":\"TEA\",\"quantity\":1,\"unit_price\":\"2.00\"}]}",
                         customer);
                EXPECT(custdb_order_place(db, json, &out), CUSTDB_OK);
                take(&out, "id", paid_by_card, sizeof paid_by_card);
                EXPECT(custdb_order_pay_gift_card(db, paid_by_card, "GIFT00000042", "1000", &out), CUSTDB_ERR_INVALID);
                CHECK(strstr(custdb_errmsg(db), "amount") != NULL);
                EXPECT(custdb_order_pay_gift_card(db, paid_by_card, "GIFT00000042", "2.00", &out), CUSTDB_OK);
                take(&out, "method", json, sizeof json);
                CHECK(strcmp(json, "gift_card") == 0);
                EXPECT(custdb_order_refund(db, paid_by_card, "{\"amount\":\"2.00\",\"reason\":\"dented\"}", &out),
                       CUSTDB_OK);
                take(&out, NULL, NULL, 0);
                EXPECT(custdb_gift_card_entries(db, card, &out), CUSTDB_OK);
                CHECK(out != NULL && strstr(out, "\"redeem\"") != NULL && strstr(out, "\"refund\"") != NULL);
                take(&out, NULL, NULL, 0);
                EXPECT(custdb_gift_card_adjust(db, card, "-1.00", "a test", &out), CUSTDB_OK);
                take(&out, NULL, NULL, 0);
                EXPECT(custdb_gift_card_adjust(db, card, "-1000", "too much", &out), CUSTDB_ERR_INVALID);
                EXPECT(custdb_gift_card_set_active(db, card, 0, &out), CUSTDB_OK);
                take(&out, "active", json, sizeof json);
                CHECK(strcmp(json, "false") == 0);
            }
            /* A refund taken as store credit pays the next order. */
            {
                char credited[64], paid_by_credit[64];
                snprintf(json, sizeof json,
                         "{\"customer_id\":\"%s\",\"currency\":\"GBP\","
                         "\"lines\":[{\"sku\":\"TEA\",\"quantity\":1,\"unit_price\":\"3.00\"}]}",
                         customer);
                EXPECT(custdb_order_place(db, json, &out), CUSTDB_OK);
                take(&out, "id", credited, sizeof credited);
                EXPECT(custdb_order_pay(db, credited, "{\"method\":\"card\",\"amount\":\"3.00\"}", &out),
                       CUSTDB_OK);
                take(&out, NULL, NULL, 0);
                EXPECT(custdb_order_refund(db, credited,
                                           "{\"amount\":\"3.00\",\"reason\":\"late\",\"to_store_credit\":true}",
                                           &out),
                       CUSTDB_OK);
                CHECK(out != NULL && strstr(out, "\"store_credit\"") != NULL);
                take(&out, NULL, NULL, 0);
                EXPECT(custdb_store_credit_get(db, customer, &out), CUSTDB_OK);
                CHECK(out != NULL && strstr(out, "\"3.00\"") != NULL);
                take(&out, NULL, NULL, 0);
                EXPECT(custdb_order_place(db, json, &out), CUSTDB_OK);
                take(&out, "id", paid_by_credit, sizeof paid_by_credit);
                EXPECT(custdb_order_pay_store_credit(db, paid_by_credit, "4.00", &out), CUSTDB_ERR_INVALID);
                CHECK(strstr(custdb_errmsg(db), "amount") != NULL);
                EXPECT(custdb_order_pay_store_credit(db, paid_by_credit, "2.00", &out), CUSTDB_OK);
                take(&out, "method", json, sizeof json);
                CHECK(strcmp(json, "store_credit") == 0);
                /* Paid in full and refunded: its stock goes back, its store credit too. */
                EXPECT(custdb_order_pay(db, paid_by_credit, "{\"method\":\"card\",\"amount\":\"1.00\"}", &out),
                       CUSTDB_OK);
                take(&out, NULL, NULL, 0);
                EXPECT(custdb_order_refund(db, paid_by_credit, "{\"amount\":\"3.00\",\"reason\":\"broken\"}", &out),
                       CUSTDB_OK);
                take(&out, NULL, NULL, 0);
                EXPECT(custdb_store_credit_get(db, customer, &out), CUSTDB_OK);
                CHECK(out != NULL && strstr(out, "\"3.00\"") != NULL);
                take(&out, NULL, NULL, 0);
                EXPECT(custdb_store_credit_adjust(db, customer, "GBP", "-0.50", "a test", &out), CUSTDB_OK);
                take(&out, NULL, NULL, 0);
                EXPECT(custdb_store_credit_adjust(db, customer, "GBP", "-1000", "too much", &out),
                       CUSTDB_ERR_INVALID);
                EXPECT(custdb_store_credit_adjust(db, customer, "GB", "1", "bad currency", &out),
                       CUSTDB_ERR_INVALID);
                EXPECT(custdb_store_credit_entries(db, customer, "GBP", &out), CUSTDB_OK);
                CHECK(out != NULL && strstr(out, "\"refund\"") != NULL && strstr(out, "\"spend\"") != NULL
                      && strstr(out, "\"adjust\"") != NULL);
                take(&out, NULL, NULL, 0);
            }
            /* Loyalty: a paid order earns points, points pay, a refund gives them back. */
            {
                char earner[64], by_points[64];
                EXPECT(custdb_loyalty_rule_set(db, "{\"currency\":\"GBP\",\"points_per_unit\":\"1\","
                                               "\"point_value\":\"0.01\",\"expires_after_days\":365}", &out),
                       CUSTDB_OK);
                take(&out, "currency", json, sizeof json);
                CHECK(strcmp(json, "GBP") == 0);
                EXPECT(custdb_loyalty_rule_set(db, "{\"currency\":\"GBP\",\"points_per_unit\":\"1\","
                                               "\"point_value\":\"0\"}", &out),
                       CUSTDB_ERR_INVALID);
                CHECK(strstr(custdb_errmsg(db), "point_value") != NULL);
                EXPECT(custdb_loyalty_rules(db, &out), CUSTDB_OK);
                CHECK(out != NULL && strstr(out, "\"GBP\"") != NULL);
                take(&out, NULL, NULL, 0);
                snprintf(json, sizeof json,
                         "{\"customer_id\":\"%s\",\"currency\":\"GBP\","
                         "\"lines\":[{\"sku\":\"TEA\",\"quantity\":1,\"unit_price\":\"7.00\"}]}",
                         customer);
                EXPECT(custdb_order_place(db, json, &out), CUSTDB_OK);
                take(&out, "id", earner, sizeof earner);
                EXPECT(custdb_order_pay(db, earner, "{\"method\":\"card\",\"amount\":\"7.00\"}", &out),
                       CUSTDB_OK);
                take(&out, NULL, NULL, 0);
                EXPECT(custdb_loyalty_get(db, customer, &out), CUSTDB_OK);
                take(&out, "points", json, sizeof json);
                CHECK(strcmp(json, "7") == 0);
                EXPECT(custdb_loyalty_adjust(db, customer, 93, "welcome", "GBP", &out), CUSTDB_OK);
                take(&out, "points", json, sizeof json);
                CHECK(strcmp(json, "100") == 0);
                EXPECT(custdb_loyalty_adjust(db, customer, -1000, "too many", NULL, &out), CUSTDB_ERR_INVALID);
                EXPECT(custdb_loyalty_adjust(db, customer, 1, "x", "GB", &out), CUSTDB_ERR_INVALID);
                snprintf(json, sizeof json,
                         "{\"customer_id\":\"%s\",\"currency\":\"GBP\","
                         "\"lines\":[{\"sku\":\"TEA\",\"quantity\":1,\"unit_price\":\"1.00\"}]}",
                         customer);
                EXPECT(custdb_order_place(db, json, &out), CUSTDB_OK);
                take(&out, "id", by_points, sizeof by_points);
                EXPECT(custdb_order_pay_points(db, by_points, 101, &out), CUSTDB_ERR_INVALID);
                CHECK(strstr(custdb_errmsg(db), "amount") != NULL);
                EXPECT(custdb_order_pay_points(db, by_points, 100, &out), CUSTDB_OK);
                take(&out, "method", json, sizeof json);
                CHECK(strcmp(json, "loyalty_points") == 0);
                EXPECT(custdb_order_refund(db, by_points, "{\"amount\":\"1.00\",\"reason\":\"broken\"}", &out),
                       CUSTDB_OK);
                CHECK(out != NULL && strstr(out, "\"loyalty_points\"") != NULL);
                take(&out, NULL, NULL, 0);
                EXPECT(custdb_order_refund(db, earner, "{\"amount\":\"7.00\",\"reason\":\"broken\"}", &out),
                       CUSTDB_OK);
                take(&out, NULL, NULL, 0);
                EXPECT(custdb_loyalty_entries(db, customer, &out), CUSTDB_OK);
                CHECK(out != NULL && strstr(out, "\"earn\"") != NULL && strstr(out, "\"spend\"") != NULL
                      && strstr(out, "\"refund\"") != NULL && strstr(out, "\"reverse\"") != NULL);
                take(&out, NULL, NULL, 0);
                EXPECT(custdb_loyalty_get(db, customer, &out), CUSTDB_OK);
                take(&out, "points", json, sizeof json);
                CHECK(strcmp(json, "93") == 0);
                EXPECT(custdb_loyalty_expire(db, &out), CUSTDB_OK);
                take(&out, "customers", json, sizeof json);
                CHECK(strcmp(json, "0") == 0);
                EXPECT(custdb_loyalty_rule_remove(db, "GBP"), CUSTDB_OK);
                EXPECT(custdb_loyalty_rule_remove(db, "GBP"), CUSTDB_ERR_NOT_FOUND);
            }
            EXPECT(custdb_tax_rate_remove(db, rate), CUSTDB_OK);
        }

        EXPECT(custdb_warehouse_get(db, north, &out), CUSTDB_OK);
        take(&out, "code", json, sizeof json);
        CHECK(strcmp(json, "N") == 0);
        EXPECT(custdb_warehouse_get_by_code(db, "S", &out), CUSTDB_OK);
        take(&out, "id", json, sizeof json);
        CHECK(strcmp(json, south) == 0);
        EXPECT(custdb_warehouse_get_by_code(db, "NOPE", &out), CUSTDB_ERR_NOT_FOUND);
        EXPECT(custdb_warehouse_set_priority(db, south, 0, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_warehouse_list(db, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "South") < strstr(out, "North"));
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_warehouse_set_priority(db, south, 2, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);

        EXPECT(custdb_stock_count(db, variant, south, 2, &out), CUSTDB_OK); /* matches: null */
        CHECK(out != NULL && strcmp(out, "null") == 0);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_stock_count(db, variant, south, 3, &out), CUSTDB_OK);
        take(&out, "kind", json, sizeof json);
        EXPECT(custdb_stock_count(db, variant, south, -1, &out), CUSTDB_ERR_INVALID);
        EXPECT(custdb_stock_adjust(db, variant, south, -1, "recount", &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_stock_reserve(db, variant, north, 1, "2999-01-01T00:00:00Z", &out), CUSTDB_OK);
        take(&out, "id", hold, sizeof hold);
        EXPECT(custdb_stock_reserve(db, variant, north, 1000, NULL, &out), CUSTDB_ERR_SHORTFALL);
        EXPECT(custdb_stock_reserve(db, variant, north, 1, "2000-01-01T00:00:00Z", &out), CUSTDB_ERR_INVALID);
        EXPECT(custdb_stock_reserve(db, variant, north, 1, "soon", &out), CUSTDB_ERR_INVALID);
        EXPECT(custdb_reservation_get(db, hold, &out), CUSTDB_OK);
        take(&out, "open_quantity", json, sizeof json);
        CHECK(strcmp(json, "1") == 0);
        EXPECT(custdb_stock_level_get(db, variant, north, &level), CUSTDB_OK);
        CHECK(level.reserved == 1);
        EXPECT(custdb_stock_release(db, hold, &out), CUSTDB_OK);
        take(&out, "closed_reason", json, sizeof json);
        CHECK(strcmp(json, "released") == 0);
        EXPECT(custdb_stock_release_expired(db, NULL, &released), CUSTDB_OK);
        CHECK(released == 0);
        EXPECT(custdb_stock_release_expired(db, "3000-01-01T00:00:00Z", &released), CUSTDB_OK);
        EXPECT(custdb_stock_release_expired(db, NULL, NULL), CUSTDB_ERR_NULL_ARGUMENT);
        EXPECT(custdb_stock_levels(db, variant, &out), CUSTDB_OK);
        CHECK(out != NULL && out[0] == '[');
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_stock_movements(db, variant, NULL, 2, &out), CUSTDB_OK);
        CHECK(out != NULL && json_field(out, "next_cursor", cursor, sizeof cursor));
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_stock_movements(db, variant, cursor, 100, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_stock_set_replenishment_rule(db, variant, north,
                   "{\"reorder_point\":50,\"target_level\":100,\"order_multiple\":12}"), CUSTDB_OK);
        EXPECT(custdb_stock_set_replenishment_rule(db, variant, north, "{\"reorder_point\":50}"), CUSTDB_ERR_JSON);
        EXPECT(custdb_stock_replenishment_suggestions(db, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "\"quantity\":96") != NULL); /* 100 - 9 on hand, up to 12s */
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_stock_low(db, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "reorder_point") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_stock_overstock(db, &out), CUSTDB_OK);
        CHECK(out != NULL && strcmp(out, "[]") == 0);
        take(&out, NULL, NULL, 0);
    }

    /* Orders. */
    snprintf(json, sizeof json,
             "{\"customer_id\":\"%s\",\"currency\":\"GBP\",\"lines\":[{\"sku\":\"TEA\",\"quantity\":2}],"
             "\"idempotency_key\":\"c-order-1\"}", customer);
    EXPECT(custdb_order_place(db, json, &out), CUSTDB_OK);
    take(&out, "id", order, sizeof order);
    EXPECT(custdb_order_place(db, json, &out), CUSTDB_OK); /* the same key and request */
    take(&out, "id", order2, sizeof order2);
    CHECK(strcmp(order, order2) == 0);
    snprintf(json, sizeof json,
             "{\"customer_id\":\"%s\",\"currency\":\"GBP\",\"lines\":[{\"sku\":\"TEA\",\"quantity\":3}],"
             "\"idempotency_key\":\"c-order-1\"}", customer);
    EXPECT(custdb_order_place(db, json, &out), CUSTDB_ERR_IDEMPOTENCY_MISMATCH);
    snprintf(json, sizeof json,
             "{\"customer_id\":\"%s\",\"currency\":\"GBP\",\"lines\":[{\"sku\":\"TEA\",\"quantity\":500}]}", customer);
    EXPECT(custdb_order_place(db, json, &out), CUSTDB_ERR_SHORTFALL);
    CHECK(strstr(custdb_errmsg(db), "TEA") != NULL);
    EXPECT(custdb_order_get(db, order, &out), CUSTDB_OK);
    take(&out, "status", json, sizeof json);
    CHECK(strcmp(json, "pending") == 0);
    EXPECT(custdb_order_ship(db, order, "{\"carrier\":\"DHL\",\"tracking_number\":\"T1\"}", &out),
           CUSTDB_ERR_INVALID_TRANSITION);
    EXPECT(custdb_order_pay(db, order, "{\"method\":\"card\",\"amount\":\"9.00\"}", &out), CUSTDB_OK);
    take(&out, "status", json, sizeof json);
    CHECK(strcmp(json, "captured") == 0);
    strcpy(paid_order, order);
    EXPECT(custdb_order_refund(db, paid_order, "{\"amount\":\"100.00\",\"reason\":\"too much\"}", &out),
           CUSTDB_ERR_INVALID);
    EXPECT(custdb_order_ship(db, paid_order, "{\"carrier\":\"DHL\",\"tracking_number\":\"T1\"}", &out), CUSTDB_OK);
    take(&out, "tracking_number", json, sizeof json);
    CHECK(strcmp(json, "T1") == 0);
    EXPECT(custdb_order_cancel(db, paid_order, "too late"), CUSTDB_ERR_INVALID_TRANSITION);
    EXPECT(custdb_order_return(db, paid_order,
               "{\"reason\":\"damaged\",\"lines\":[{\"sku\":\"TEA\",\"quantity\":1,\"restock\":true}]}", &out),
           CUSTDB_OK);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_order_refund(db, paid_order, "{\"amount\":\"4.50\",\"reason\":\"damaged\"}", &out), CUSTDB_OK);
    take(&out, NULL, NULL, 0);
    snprintf(json, sizeof json,
             "{\"customer_id\":\"%s\",\"currency\":\"GBP\",\"lines\":[{\"sku\":\"TEA\",\"quantity\":1}]}", customer);
    EXPECT(custdb_order_place(db, json, &out), CUSTDB_OK);
    take(&out, "id", order2, sizeof order2);
    EXPECT(custdb_order_cancel(db, order2, "changed my mind"), CUSTDB_OK);
    EXPECT(custdb_order_cancel(db, order2, NULL), CUSTDB_ERR_NULL_ARGUMENT);
    EXPECT(custdb_order_history(db, customer, NULL, 1, &out), CUSTDB_OK);
    CHECK(out != NULL && json_field(out, "next_cursor", cursor, sizeof cursor));
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_order_history(db, customer, cursor, 1, &out), CUSTDB_OK);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_order_get(db, "01900000-0000-7000-8000-000000000000", &out), CUSTDB_ERR_NOT_FOUND);
    EXPECT(custdb_order_lifetime_value(db, customer, &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "\"GBP\"") != NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_order_sales_by_variant(db, "2000-01-01T00:00:00Z", "3000-01-01T00:00:00Z", &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "\"TEA\"") != NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_order_sales_by_variant(db, "3000-01-01T00:00:00Z", "2000-01-01T00:00:00Z", &out), CUSTDB_ERR_INVALID);
    EXPECT(custdb_order_sales_by_variant(db, NULL, "2000-01-01T00:00:00Z", &out), CUSTDB_ERR_NULL_ARGUMENT);
    EXPECT(custdb_order_get(db, paid_order, &out), CUSTDB_OK);
    take(&out, "number", json, sizeof json);
    EXPECT(custdb_order_get_by_number(db, atoll(json), &out), CUSTDB_OK);
    take(&out, "id", json, sizeof json);
    CHECK(strcmp(json, paid_order) == 0);
    EXPECT(custdb_order_get_by_number(db, 0, &out), CUSTDB_ERR_NOT_FOUND);
    EXPECT(custdb_order_events(db, paid_order, &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "shipped") != NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_order_list_by_status(db, "cancelled", NULL, 10, &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, order2) != NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_order_list_by_status(db, "lost", NULL, 10, &out), CUSTDB_ERR_INVALID);
    CHECK(strstr(custdb_errmsg(db), "status") != NULL);
    EXPECT(custdb_order_payments(db, paid_order, &out), CUSTDB_OK);
    take(&out, "id", json, sizeof json);
    EXPECT(custdb_payment_get(db, json, &out), CUSTDB_OK);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_order_shipments(db, paid_order, &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "DHL") != NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_order_returns(db, paid_order, &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "damaged") != NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_order_refunds(db, paid_order, &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "\"4.50\"") != NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_stock_movements_of_order(db, paid_order, &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "\"shipment\"") != NULL);
    take(&out, NULL, NULL, 0);
    {
        char authorized[64], payment[64];
        snprintf(json, sizeof json,
                 "{\"customer_id\":\"%s\",\"currency\":\"GBP\",\"lines\":[{\"sku\":\"TEA\",\"quantity\":1}]}", customer);
        EXPECT(custdb_order_place(db, json, &out), CUSTDB_OK);
        take(&out, "id", authorized, sizeof authorized);
        EXPECT(custdb_order_authorize_payment(db, authorized, "{\"method\":\"card\",\"amount\":\"4.50\"}", &out), CUSTDB_OK);
        take(&out, "id", payment, sizeof payment);
        EXPECT(custdb_payment_fail(db, payment, &out), CUSTDB_OK);
        take(&out, "status", json, sizeof json);
        CHECK(strcmp(json, "failed") == 0);
        EXPECT(custdb_payment_capture(db, payment, &out), CUSTDB_ERR_INVALID_TRANSITION);
        EXPECT(custdb_order_authorize_payment(db, authorized, "{\"method\":\"card\",\"amount\":\"4.50\"}", &out), CUSTDB_OK);
        take(&out, "id", payment, sizeof payment);
        EXPECT(custdb_payment_capture(db, payment, &out), CUSTDB_OK);
        take(&out, "status", json, sizeof json);
        CHECK(strcmp(json, "captured") == 0);
        /* An unknown SKU is CUSTDB_ERR_NOT_FOUND wherever it is named. */
        EXPECT(custdb_order_ship(db, authorized,
                   "{\"carrier\":\"DPD\",\"tracking_number\":\"T2\",\"lines\":[{\"sku\":\"NOPE\",\"quantity\":1}]}", &out),
               CUSTDB_ERR_NOT_FOUND);
        CHECK(strstr(custdb_errmsg(db), "NOPE") != NULL);
        EXPECT(custdb_order_return(db, paid_order,
                   "{\"reason\":\"x\",\"lines\":[{\"sku\":\"NOPE\",\"quantity\":1,\"restock\":true}]}", &out),
               CUSTDB_ERR_NOT_FOUND);
        snprintf(json, sizeof json,
                 "{\"customer_id\":\"%s\",\"currency\":\"GBP\",\"lines\":[{\"sku\":\"NOPE\",\"quantity\":1}]}", customer);
        EXPECT(custdb_order_place(db, json, &out), CUSTDB_ERR_NOT_FOUND);
        CHECK(strstr(custdb_errmsg(db), "NOPE") != NULL);
        EXPECT(custdb_order_ship(db, authorized, "{\"carrier\":\"DPD\",\"tracking_number\":\"T2\"}", &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_order_deliver(db, order2), CUSTDB_ERR_INVALID_TRANSITION); /* cancelled */
        EXPECT(custdb_order_deliver(db, authorized), CUSTDB_OK);
        EXPECT(custdb_order_get(db, authorized, &out), CUSTDB_OK);
        take(&out, "status", json, sizeof json);
        CHECK(strcmp(json, "delivered") == 0);
        snprintf(json, sizeof json,
                 "{\"customer_id\":\"%s\",\"currency\":\"GBP\",\"amount\":\"5.00\",\"reason\":\"goodwill\","
                 "\"lines\":[],\"issued_at\":\"2026-01-01T00:00:00Z\"}", customer);
        EXPECT(custdb_credit_note_issue(db, json, &out), CUSTDB_OK);
        take(&out, "id", payment, sizeof payment);
        EXPECT(custdb_credit_note_get(db, payment, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "goodwill") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_credit_note_issue(db, "{\"amount\":\"5.00\"}", &out), CUSTDB_ERR_JSON);
    }

    /* Consent and privacy. */
    EXPECT(custdb_purpose_register(db,
               "{\"id\":\"newsletter\",\"description\":\"News\",\"lawful_basis\":\"consent\","
               "\"consent_required\":true,\"data_categories\":[\"contact\"]}", &out),
           CUSTDB_OK);
    take(&out, "id", json, sizeof json);
    EXPECT(custdb_consent_withdraw(db, customer, "newsletter", "email", &out), CUSTDB_ERR_INVALID_STATE);
    /* A plain-text argument is never parsed as JSON: a wrong name is INVALID, naming the choices. */
    EXPECT(custdb_consent_withdraw(db, customer, "newsletter", "carrier pigeon", &out), CUSTDB_ERR_INVALID);
    CHECK(strstr(custdb_errmsg(db), "collection_method") != NULL && strstr(custdb_errmsg(db), "web_form") != NULL);
    snprintf(json, sizeof json,
             "{\"customer_id\":\"%s\",\"purpose_id\":\"newsletter\",\"state\":\"given\","
             "\"collection_method\":\"web_form\",\"notice\":{\"version\":\"v1\",\"text\":\"Send news\"},"
             "\"channel\":\"web\",\"jurisdiction\":\"GB\",\"language\":\"en\"}", customer);
    EXPECT(custdb_consent_record(db, json, &out), CUSTDB_OK);
    take(&out, "id", cursor, sizeof cursor);
    EXPECT(custdb_consent_can_process(db, customer, "newsletter", NULL, &allowed), CUSTDB_OK);
    CHECK(allowed == 1);
    EXPECT(custdb_consent_can_process(db, customer, "newsletter", "2000-01-01T00:00:00Z", &allowed), CUSTDB_OK);
    CHECK(allowed == 0);
    EXPECT(custdb_consent_can_process(db, customer, "newsletter", "yesterday", &allowed), CUSTDB_ERR_INVALID);
    EXPECT(custdb_consent_can_process(db, customer, "unknown", NULL, &allowed), CUSTDB_ERR_NOT_FOUND);
    EXPECT(custdb_consent_withdraw(db, customer, "newsletter", "email", &out), CUSTDB_OK);
    take(&out, "state", json, sizeof json);
    CHECK(strcmp(json, "withdrawn") == 0);
    EXPECT(custdb_subject_export(db, customer, &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "custdb.subject-export") != NULL && strstr(out, "ann@example.com") != NULL);
    take(&out, NULL, NULL, 0);

    /* Consent: purposes, states, history, the consenting list, receipts. */
    {
        char event[64];
        EXPECT(custdb_purpose_get(db, "newsletter", &out), CUSTDB_OK);
        take(&out, "lawful_basis", json, sizeof json);
        CHECK(strcmp(json, "consent") == 0);
        EXPECT(custdb_purpose_get(db, "nope", &out), CUSTDB_ERR_NOT_FOUND);
        EXPECT(custdb_purpose_list(db, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "newsletter") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_consent_history(db, customer, NULL, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "given") != NULL && strstr(out, "withdrawn") != NULL);
        take(&out, "id", event, sizeof event);
        EXPECT(custdb_consent_history(db, customer, "newsletter", &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_consent_event_get(db, event, &out), CUSTDB_OK);
        take(&out, "state", json, sizeof json);
        CHECK(strcmp(json, "given") == 0);
        EXPECT(custdb_consent_states(db, customer, NULL, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "withdrawn") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_consent_state_at(db, customer, "newsletter", "2000-01-01T00:00:00Z", &out), CUSTDB_OK);
        CHECK(out != NULL && strcmp(out, "null") == 0);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_consent_state_at(db, customer, "newsletter", NULL, &out), CUSTDB_OK);
        take(&out, "state", json, sizeof json);
        CHECK(strcmp(json, "withdrawn") == 0);
        EXPECT(custdb_consent_consenting(db, "newsletter", NULL, NULL, 10, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, customer) == NULL); /* withdrawn */
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_consent_receipt(db, event,
                   "{\"name\":\"Tea Ltd\",\"contact\":\"DPO\",\"address\":\"1 High St\","
                   "\"email\":\"dpo@tea.example\",\"phone\":\"+441632960000\"}",
                   "https://tea.example/privacy", "shop", &out),
               CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "KI-CR-v1.1.0") != NULL && strstr(out, "piiControllers") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_consent_receipt(db, event, "{\"name\":\"Tea Ltd\",\"extra\":1}", "u", "s", &out), CUSTDB_ERR_JSON);
    }

    /* Retention rules. */
    EXPECT(custdb_retention_rule_set(db, "interactions", 3650, &out), CUSTDB_OK);
    take(&out, "period_days", json, sizeof json);
    CHECK(strcmp(json, "3650") == 0);
    EXPECT(custdb_retention_rule_set(db, "forever", 10, &out), CUSTDB_ERR_INVALID);
    EXPECT(custdb_retention_rule_set(db, "interactions", 0, &out), CUSTDB_ERR_INVALID);
    EXPECT(custdb_retention_rules(db, &out), CUSTDB_OK);
    CHECK(out != NULL && strstr(out, "interactions") != NULL);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_retention_plan(db, NULL, &out), CUSTDB_OK);
    take(&out, "dry_run", json, sizeof json);
    CHECK(strcmp(json, "true") == 0);
    EXPECT(custdb_retention_apply(db, NULL, &out), CUSTDB_OK);
    take(&out, "dry_run", json, sizeof json);
    CHECK(strcmp(json, "false") == 0);
    EXPECT(custdb_begin(db), CUSTDB_OK);
    EXPECT(custdb_retention_apply(db, NULL, &out), CUSTDB_ERR_REENTRANT);
    EXPECT(custdb_rollback(db), CUSTDB_OK);

    /* Access: roles, grants, and an actor handle that enforces them. */
    {
        custdb_actor *clerk = NULL, *auditor = NULL;
        int32_t can = -1;
        char head[256], actor_backup[600];
        EXPECT(custdb_role_define(db, "clerk", "[\"read_customers\",\"write_customers\"]", NULL, &out), CUSTDB_OK);
        take(&out, "name", json, sizeof json);
        CHECK(strcmp(json, "clerk") == 0);
        EXPECT(custdb_role_define(db, "admin", "[\"read_customers\"]", NULL, &out), CUSTDB_ERR_INVALID);
        EXPECT(custdb_role_define(db, "bad", "[\"fly\"]", NULL, &out), CUSTDB_ERR_JSON);
        EXPECT(custdb_role_get(db, "clerk", &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_role_get(db, "nobody", &out), CUSTDB_ERR_NOT_FOUND);
        EXPECT(custdb_role_list(db, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "auditor") != NULL && strstr(out, "clerk") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_actor_open(db, "carl", "Carl", &clerk), CUSTDB_ERR_PERMISSION_DENIED);
        CHECK(clerk == NULL);
        EXPECT(custdb_access_grant(db, "carl", "clerk", &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "clerk") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_access_grant(db, "olga", "auditor", &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_access_grant(db, "olga", "sales", &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_access_revoke(db, "olga", "sales", &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "sales") == NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_access_grants(db, "olga", &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "auditor") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_actor_open(db, "carl", "Carl", &clerk), CUSTDB_OK);
        EXPECT(custdb_actor_open(db, "olga", "Olga", &auditor), CUSTDB_OK);
        EXPECT(custdb_actor_can(clerk, "write_customers", &can), CUSTDB_OK);
        CHECK(can == 1);
        EXPECT(custdb_actor_can(auditor, "write_customers", &can), CUSTDB_OK);
        CHECK(can == 0);
        EXPECT(custdb_actor_can(auditor, "fly", &can), CUSTDB_ERR_INVALID);
        EXPECT(custdb_actor_roles(auditor, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "auditor") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_actor_customer_create(clerk, "{\"display_name\":\"Grace Hopper\",\"email\":\"grace@example.com\"}", &out),
               CUSTDB_OK);
        take(&out, "id", json, sizeof json);
        EXPECT(custdb_actor_customer_create(auditor, "{\"display_name\":\"X\"}", &out), CUSTDB_ERR_PERMISSION_DENIED);
        CHECK(strstr(custdb_actor_errmsg(auditor), "write_customers") != NULL);
        CHECK(strcmp(custdb_actor_errmsg(clerk), "") == 0);
        EXPECT(custdb_actor_customer_get(auditor, json, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "Grace Hopper") == NULL); /* masked */
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_actor_customer_get(clerk, json, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_actor_customer_update(clerk, json, 1, "{\"company\":\"Navy\"}", &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_actor_customer_add_address(clerk, json,
                   "{\"kind\":\"billing\",\"line1\":\"1 Navy Way\",\"city\":\"Arlington\",\"country\":\"US\"}", &out),
               CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_actor_customer_addresses(clerk, json, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_actor_customer_add_interaction(clerk, json,
                   "{\"channel\":\"email\",\"direction\":\"outbound\",\"kind\":\"marketing\",\"subject\":\"Hi\"}", &out),
               CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_actor_customer_interactions(clerk, json, NULL, 10, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_actor_customer_list(clerk, NULL, NULL, 10, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        /* Looking people up by email or name needs read_personal_data. */
        EXPECT(custdb_actor_customer_get_by_email(clerk, "grace@example.com", &out), CUSTDB_ERR_PERMISSION_DENIED);
        CHECK(strstr(custdb_actor_errmsg(clerk), "read_personal_data") != NULL);
        EXPECT(custdb_actor_customer_search(clerk, "grace", 5, &out), CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_customer_archive(clerk, json, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        /* The clerk may not do what its roles do not allow. */
        EXPECT(custdb_actor_product_create(clerk, "{\"name\":\"X\",\"variants\":[]}", &out), CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_warehouse_create(clerk, "{\"code\":\"X\",\"name\":\"X\"}", &out), CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_stock_receive(clerk, variant, north, 1, &out), CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_order_place(clerk, "{\"currency\":\"GBP\",\"guest_email\":\"g@example.com\",\"lines\":[]}", &out),
               CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_order_get(clerk, paid_order, &out), CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_order_history(clerk, customer, NULL, 10, &out), CUSTDB_OK); /* read_customers */
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_actor_order_pay(clerk, paid_order, "{\"method\":\"card\",\"amount\":\"1.00\"}", &out),
               CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_order_ship(clerk, paid_order, "{\"carrier\":\"X\",\"tracking_number\":\"Y\"}", &out),
               CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_order_cancel(clerk, paid_order, "no"), CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_order_return(clerk, paid_order, "{\"reason\":\"x\",\"lines\":[]}", &out),
               CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_order_refund(clerk, paid_order, "{\"amount\":\"1.00\",\"reason\":\"x\"}", &out),
               CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_purpose_register(clerk,
                   "{\"id\":\"x\",\"description\":\"x\",\"lawful_basis\":\"consent\",\"consent_required\":true,"
                   "\"data_categories\":[\"contact\"]}", &out),
               CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_consent_record(clerk, "{}", &out), CUSTDB_ERR_JSON); /* input checked first */
        EXPECT(custdb_actor_consent_can_process(clerk, customer, "newsletter", NULL, &can), CUSTDB_OK);
        CHECK(can == 0);
        EXPECT(custdb_actor_subject_export(clerk, customer, &out), CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_subject_erase(clerk, customer, &out), CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_audit_query(clerk, NULL, NULL, 10, &out), CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_access_grant(clerk, "carl", "admin", &out), CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_audit_verify(clerk, &verification), CUSTDB_ERR_PERMISSION_DENIED);
        /* The auditor reads the trail. */
        EXPECT(custdb_actor_audit_query(auditor, "{\"actor_id\":\"carl\"}", NULL, 100, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "carl") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_actor_audit_verify(auditor, &verification), CUSTDB_OK);
        CHECK(verification.ok == 1);
        snprintf(actor_backup, sizeof actor_backup, "%s/api-actor-backup.db", dir);
        EXPECT(custdb_actor_backup(clerk, actor_backup, &pages), CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_backup(auditor, actor_backup, &pages), CUSTDB_ERR_PERMISSION_DENIED);
        EXPECT(custdb_actor_customer_get(NULL, json, &out), CUSTDB_ERR_NULL_ARGUMENT);
        CHECK(strcmp(custdb_actor_errmsg(NULL), "") == 0);
        /* An actor handle refuses to run on a thread with a unit open on its store. */
        EXPECT(custdb_begin(db), CUSTDB_OK);
        EXPECT(custdb_actor_customer_get(clerk, json, &out), CUSTDB_ERR_REENTRANT);
        EXPECT(custdb_rollback(db), CUSTDB_OK);
        custdb_actor_close(clerk);
        custdb_actor_close(auditor);
        custdb_actor_close(NULL);

        /* The audit trail. */
        EXPECT(custdb_audit_query(db, "{\"entity_type\":\"customer\",\"entity_id\":\"" "x" "\"}", NULL, 10, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "\"items\":[]") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_audit_query(db, NULL, NULL, 2, &out), CUSTDB_OK);
        CHECK(out != NULL && json_field(out, "next_cursor", cursor, sizeof cursor));
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_audit_query(db, "{\"entity_id\":\"x\"}", NULL, 10, &out), CUSTDB_ERR_INVALID);
        EXPECT(custdb_audit_query(db, "{\"who\":\"x\"}", NULL, 10, &out), CUSTDB_ERR_JSON);
        EXPECT(custdb_audit_head(db, &out), CUSTDB_OK);
        CHECK(out != NULL && strlen(out) < sizeof head);
        if (out != NULL) snprintf(head, sizeof head, "%s", out);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_audit_verify_against(db, head, &verification), CUSTDB_OK);
        CHECK(verification.ok == 1);
        EXPECT(custdb_audit_verify_against(db, "{\"seq\":1,\"hash\":\"00\"}", &verification), CUSTDB_OK);
        CHECK(verification.ok == 0);
        EXPECT(custdb_audit_verify_against(db, "{\"seq\":1}", &verification), CUSTDB_ERR_JSON);
        EXPECT(custdb_audit_verify_against(db, "{\"seq\":1,\"hash\":\"00\",\"extra\":1}", &verification), CUSTDB_ERR_JSON);
        CHECK(strstr(custdb_errmsg(db), "extra") != NULL);
        EXPECT(custdb_audit_verify_against(db, "[1,\"00\"]", &verification), CUSTDB_ERR_JSON);

        /* The change feed: a consumer reads from the oldest event, acknowledges,
         * and the feed's retention and pruning take their limits. */
        {
            char position[32];
            EXPECT(custdb_changes_create_consumer(db, "c-mirror", "oldest", 0, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "\"name\":\"c-mirror\"") != NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_changes_create_consumer(db, "c-mirror", "now", 0, &out), CUSTDB_ERR_ALREADY_EXISTS);
            EXPECT(custdb_changes_create_consumer(db, "c-bad", "sideways", 0, &out), CUSTDB_ERR_INVALID);
            EXPECT(custdb_changes_create_consumer(db, "c-late", "after", INT64_MAX, &out), CUSTDB_ERR_INVALID);
            EXPECT(custdb_changes_create_consumer(db, "bad name", NULL, 0, &out), CUSTDB_ERR_INVALID);
            EXPECT(custdb_changes_create_consumer(db, NULL, NULL, 0, &out), CUSTDB_ERR_NULL_ARGUMENT);
            EXPECT(custdb_changes_wait(db, "c-mirror", 1, 5000, &out), CUSTDB_OK);
            CHECK(out != NULL && json_field(out, "position", position, sizeof position));
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_changes_poll(db, "c-mirror", 1000, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "\"kind\":\"customer.created\"") != NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_changes_poll(db, "c-mirror", 0, &out), CUSTDB_ERR_INVALID);
            EXPECT(custdb_changes_poll(db, "nobody", 10, &out), CUSTDB_ERR_NOT_FOUND);
            EXPECT(custdb_changes_wait(db, "c-mirror", 10, 3600001, &out), CUSTDB_ERR_INVALID);
            EXPECT(custdb_changes_ack(db, "c-mirror", atoll(position), &out), CUSTDB_OK);
            take(&out, "position", json, sizeof json);
            CHECK(strcmp(json, position) == 0);
            EXPECT(custdb_changes_ack(db, "c-mirror", -1, &out), CUSTDB_ERR_INVALID);
            EXPECT(custdb_changes_status(db, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "\"c-mirror\"") != NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_changes_set_retention(db, "{\"acknowledged_s\":0,\"unacknowledged_s\":null}", &out),
                   CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_changes_set_retention(db, "{\"acknowledged_s\":0,\"forever\":true}", &out), CUSTDB_ERR_JSON);
            EXPECT(custdb_changes_prune(db, 100, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "\"pruned\":") != NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_changes_prune(db, 0, &out), CUSTDB_ERR_INVALID);
            /* Waiting inside a unit of work would wait for its own commit. */
            EXPECT(custdb_begin(db), CUSTDB_OK);
            EXPECT(custdb_changes_wait(db, "c-mirror", 1, 10, &out), CUSTDB_ERR_REENTRANT);
            EXPECT(custdb_rollback(db), CUSTDB_OK);
            /* A consumer behind retention must resynchronise: the newest
             * event always stays, the rest goes when unacknowledged events
             * may be pruned at once. */
            EXPECT(custdb_changes_create_consumer(db, "c-behind", "oldest", 0, &out), CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_changes_set_retention(db, "{\"acknowledged_s\":0,\"unacknowledged_s\":0}", &out),
                   CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_customer_create(db, "{\"display_name\":\"Feed newest\"}", &out), CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_changes_prune(db, 10000, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "\"pruned\":0") == NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_changes_poll(db, "c-behind", 10, &out), CUSTDB_ERR_CHANGES_PRUNED);
            CHECK(strstr(custdb_errmsg(db), "resynchronise") != NULL);
            EXPECT(custdb_changes_drop_consumer(db, "c-behind"), CUSTDB_OK);
            EXPECT(custdb_changes_drop_consumer(db, "c-mirror"), CUSTDB_OK);
            EXPECT(custdb_changes_drop_consumer(db, "c-mirror"), CUSTDB_ERR_NOT_FOUND);
        }
    }

    /* Reports, RFM, segments, duplicates. */
    {
        char twin[64];
        EXPECT(custdb_report_counts(db, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "customers") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_report_revenue_by_period(db, "month", NULL, NULL, &out), CUSTDB_OK);
        CHECK(out != NULL && out[0] == '[');
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_report_revenue_by_period(db, "year", NULL, NULL, &out), CUSTDB_ERR_INVALID);
        EXPECT(custdb_report_revenue_by_period(db, "day", "2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z", &out),
               CUSTDB_ERR_INVALID);
        EXPECT(custdb_report_revenue_by_country(db, "2000-01-01T00:00:00Z", NULL, 10, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_report_top_customers(db, NULL, NULL, 10, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_report_revenue_by_product(db, NULL, "3000-01-01T00:00:00Z", 10, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "TEA") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_report_average_order_value(db, NULL, NULL, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_report_repeat_purchase_rate(db, NULL, NULL, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_report_cancellations_and_returns(db, NULL, NULL, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_report_stock_out_risk(db, NULL, 30, 14, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_report_stock_out_risk(db, NULL, 0, 14, &out), CUSTDB_ERR_INVALID);
        EXPECT(custdb_report_rfm(db, NULL, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, customer) != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_report_rfm_segments(db, NULL, &out), CUSTDB_OK);
        CHECK(out != NULL && out[0] == '[');
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_segment_evaluate(db, "{\"tag\":\"vip\"}", NULL, 10, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, customer) != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_segment_evaluate(db, "{\"tags\":\"vip\"}", NULL, 10, &out), CUSTDB_ERR_JSON);
        EXPECT(custdb_segment_save(db, "vips", "{\"tag\":\"vip\"}"), CUSTDB_OK);
        EXPECT(custdb_segment_get(db, "vips", &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, "vip") != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_segment_get(db, "nope", &out), CUSTDB_ERR_NOT_FOUND);
        EXPECT(custdb_segment_names(db, &out), CUSTDB_OK);
        CHECK(out != NULL && strcmp(out, "[\"vips\"]") == 0);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_segment_evaluate_saved(db, "vips", NULL, 10, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, customer) != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_customer_create(db, "{\"display_name\":\"Bobby\",\"phone\":\"+44 20 7946 0958\"}", &out), CUSTDB_OK);
        take(&out, "id", twin, sizeof twin);
        EXPECT(custdb_duplicate_candidates(db, 10, &out), CUSTDB_OK);
        CHECK(out != NULL && strstr(out, twin) != NULL && strstr(out, other) != NULL);
        take(&out, NULL, NULL, 0);
        EXPECT(custdb_duplicate_candidates(db, 0, &out), CUSTDB_ERR_INVALID);
        EXPECT(custdb_customer_plan_merge(db, other, twin, &out), CUSTDB_OK);
        take(&out, "dry_run", json, sizeof json);
        CHECK(strcmp(json, "true") == 0);
        EXPECT(custdb_customer_merge(db, other, twin, &out), CUSTDB_OK);
        take(&out, "dry_run", json, sizeof json);
        CHECK(strcmp(json, "false") == 0);
        EXPECT(custdb_customer_merge(db, other, other, &out), CUSTDB_ERR_INVALID);
    }

    /* Import and export. */
    {
        char csv_path[600], jsonl_path[600], retail_path[600], export_path[600];
        uint64_t counts[2] = {0, 0};
        custdb_export_report exported = {0, 0};
        snprintf(csv_path, sizeof csv_path, "%s/customers.csv", dir);
        snprintf(jsonl_path, sizeof jsonl_path, "%s/products.jsonl", dir);
        snprintf(retail_path, sizeof retail_path, "%s/retail.csv", dir);
        snprintf(export_path, sizeof export_path, "%s/export.csv", dir);
        f = fopen(csv_path, "w");
        CHECK(f != NULL);
        if (f) {
            fputs("Name,E-mail\nLin Ma,lin@example.com\nNo Mail,not-an-email\nKim Oh,kim@example.com\n", f);
            fclose(f);
        }
        EXPECT(custdb_import_customers_csv(db, csv_path,
                   "{\"source\":\"crm\",\"columns\":{\"Name\":\"display_name\",\"E-mail\":\"email\"}}",
                   count_import, count_rejection, counts, &out),
               CUSTDB_OK);
        take(&out, "imported", json, sizeof json);
        CHECK(strcmp(json, "2") == 0);
        CHECK(counts[0] >= 1 && counts[1] == 1); /* progress called; one rejection */
        EXPECT(custdb_import_customers_csv(db, csv_path, "{\"source\":\"crm\",\"columns\":{\"Nom\":\"display_name\"}}",
                   NULL, NULL, NULL, &out),
               CUSTDB_ERR_INVALID);
        EXPECT(custdb_import_customers_csv(db, "/nonexistent/x.csv", "{\"source\":\"crm\",\"columns\":{}}",
                   NULL, NULL, NULL, &out),
               CUSTDB_ERR_CANNOT_OPEN);
        f = fopen(jsonl_path, "w");
        CHECK(f != NULL);
        if (f) {
            fputs("{\"email\":\"zed@example.com\",\"name\":\"Zed\"}\n", f);
            fclose(f);
        }
        EXPECT(custdb_import_customers_jsonl(db, jsonl_path,
                   "{\"source\":\"shop\",\"columns\":{\"name\":\"display_name\",\"email\":\"email\"}}",
                   NULL, NULL, NULL, &out),
               CUSTDB_OK);
        take(&out, "imported", json, sizeof json);
        CHECK(strcmp(json, "1") == 0);
        remove(jsonl_path);
        f = fopen(jsonl_path, "w");
        CHECK(f != NULL);
        if (f) {
            fputs("{\"name\":\"Jam\",\"variants\":[{\"sku\":\"JAM\",\"price\":\"3.00\",\"currency\":\"GBP\","
                  "\"track_stock\":false}]}\n", f);
            fputs("{\"name\":\"Broken\"\n", f);
            fclose(f);
        }
        EXPECT(custdb_import_products_jsonl(db, jsonl_path, NULL, NULL, NULL, &out), CUSTDB_OK);
        take(&out, "rejected", json, sizeof json);
        CHECK(strcmp(json, "1") == 0);
        remove(jsonl_path);
        f = fopen(jsonl_path, "w");
        CHECK(f != NULL);
        if (f) {
            fputs("{\"key\":\"old-1\",\"customer_email\":\"lin@example.com\",\"currency\":\"GBP\","
                  "\"placed_at\":\"2020-01-02T10:00:00Z\",\"lines\":[{\"sku\":\"JAM\",\"quantity\":2,"
                  "\"unit_price\":\"3.00\"}]}\n", f);
            fclose(f);
        }
        EXPECT(custdb_import_orders_jsonl(db, "oldshop", jsonl_path, NULL, NULL, NULL, &out), CUSTDB_OK);
        take(&out, "imported", json, sizeof json);
        CHECK(strcmp(json, "1") == 0);
        f = fopen(retail_path, "w");
        CHECK(f != NULL);
        if (f) {
            fputs("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
                  "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
                  "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom\n", f);
            fclose(f);
        }
        EXPECT(custdb_import_retail(db, retail_path, NULL, NULL, NULL, &out), CUSTDB_OK);
        take(&out, "lines_read", json, sizeof json);
        CHECK(strcmp(json, "2") == 0);
        EXPECT(custdb_export_customers(db, export_path, "csv", &exported), CUSTDB_OK);
        CHECK(exported.rows >= 5 && exported.feed_position > 0);
        EXPECT(custdb_export_customers(db, export_path, "csv", &exported), CUSTDB_ERR_INVALID); /* never overwrites */
        EXPECT(custdb_export_customers(db, jsonl_path, "xml", &exported), CUSTDB_ERR_INVALID);
        remove(export_path);
        EXPECT(custdb_export_orders(db, export_path, "jsonl", &exported), CUSTDB_OK);
        CHECK(exported.rows >= 4);
    }

    /* Audit, backup, restore, check. */
    EXPECT(custdb_audit_verify(db, &verification), CUSTDB_OK);
    CHECK(verification.ok == 1 && verification.entries > 10 && verification.broken_seq == 0
          && verification.pending == 0);
    EXPECT(custdb_audit_verify(db, NULL), CUSTDB_ERR_NULL_ARGUMENT);
    EXPECT(custdb_backup(db, backup, &pages), CUSTDB_OK);
    CHECK(pages > 0);
    EXPECT(custdb_backup(db, backup, NULL), CUSTDB_ERR_INVALID); /* never overwrites */
    {
        char progress_path[600], vacuum_path[600];
        uint64_t calls[2] = {0, 0};
        snprintf(progress_path, sizeof progress_path, "%s/api-progress.db", dir);
        snprintf(vacuum_path, sizeof vacuum_path, "%s/api-vacuum.db", dir);
        EXPECT(custdb_backup_with_progress(db, progress_path, count_progress, calls, &pages), CUSTDB_OK);
        CHECK(calls[0] >= 1 && calls[1] == pages);
        EXPECT(custdb_vacuum_into(db, vacuum_path, &pages), CUSTDB_OK);
        CHECK(pages > 0);
        EXPECT(custdb_vacuum_into(db, vacuum_path, NULL), CUSTDB_ERR_INVALID);
    }
    EXPECT(custdb_restore(bogus, restored, NULL, &copy), CUSTDB_ERR_NOT_A_DATABASE);
    CHECK(copy == NULL);
    EXPECT(custdb_restore(backup, restored, NULL, &copy), CUSTDB_OK);
    {
        /* A read-only handle on the restored copy refuses writes. */
        custdb_options *ro = custdb_options_new();
        custdb_store *reader = NULL;
        int32_t emptied = -1;
        EXPECT(custdb_checkpoint(copy, &emptied), CUSTDB_OK);
        CHECK(emptied == 0 || emptied == 1);
        EXPECT(custdb_options_set_read_only(ro, 1), CUSTDB_OK);
        EXPECT(custdb_open(restored, ro, &reader), CUSTDB_OK);
        EXPECT(custdb_customer_create(reader, "{\"display_name\":\"X\"}", &out), CUSTDB_ERR_READ_ONLY);
        EXPECT(custdb_customer_get(reader, customer, &out), CUSTDB_OK);
        take(&out, NULL, NULL, 0);
        custdb_close(reader);
        custdb_options_free(ro);
    }
    EXPECT(custdb_check(copy, &out), CUSTDB_OK);
    CHECK(out != NULL && strcmp(out, "[]") == 0);
    take(&out, NULL, NULL, 0);
    custdb_close(copy);

    EXPECT(custdb_subject_erase(db, customer, &out), CUSTDB_OK);
    take(&out, "already_erased", json, sizeof json);
    CHECK(strcmp(json, "false") == 0);
    EXPECT(custdb_subject_erase(db, customer, &out), CUSTDB_OK);
    take(&out, "already_erased", json, sizeof json);
    CHECK(strcmp(json, "true") == 0);
    EXPECT(custdb_subject_erase(db, "01900000-0000-7000-8000-000000000000", &out), CUSTDB_ERR_NOT_FOUND);
    EXPECT(custdb_check(db, &out), CUSTDB_OK);
    CHECK(out != NULL && strcmp(out, "[]") == 0);
    take(&out, NULL, NULL, 0);
    EXPECT(custdb_check(NULL, &out), CUSTDB_ERR_NULL_ARGUMENT);

    custdb_close(db);

    /* PostgreSQL: the harness sets CUSTDB_TEST_POSTGRES to a fresh
     * database's connection string when a cluster runs and the library was
     * built with the postgres feature; the same calls then work on a
     * server. Without it, opening one is a typed refusal. */
    {
        const char *server = getenv("CUSTDB_TEST_POSTGRES");
        custdb_store *pg = NULL;
        custdb_options *pg_options = custdb_options_new();
        EXPECT(custdb_options_set_tls_root_certificates(NULL, "ca.pem"), CUSTDB_ERR_NULL_ARGUMENT);
        EXPECT(custdb_options_set_tls_root_certificates(pg_options, NULL), CUSTDB_ERR_NULL_ARGUMENT);
        EXPECT(custdb_options_set_read_replica(NULL, "host=x"), CUSTDB_ERR_NULL_ARGUMENT);
        EXPECT(custdb_options_set_read_replica(pg_options, NULL), CUSTDB_ERR_NULL_ARGUMENT);
        EXPECT(custdb_open_postgres(NULL, NULL, &pg), CUSTDB_ERR_NULL_ARGUMENT);
        EXPECT(custdb_open_postgres("host=/nonexistent dbname=x", NULL, NULL), CUSTDB_ERR_NULL_ARGUMENT);
        /* TLS cannot be had over a Unix socket, so with a root set the
         * open is refused before any data is sent. */
        EXPECT(custdb_options_set_tls_root_certificates(pg_options, "/nonexistent/ca.pem"), CUSTDB_OK);
        CHECK(custdb_open_postgres("host=/nonexistent dbname=x", pg_options, &pg) != CUSTDB_OK);
        CHECK(pg == NULL);
        custdb_options_free(pg_options);
        if (server == NULL) {
            custdb_status refused = custdb_open_postgres("host=/nonexistent dbname=x", NULL, &pg);
            CHECK(refused == CUSTDB_ERR_UNSUPPORTED || refused == CUSTDB_ERR_IO);
            CHECK(pg == NULL);
            printf("PostgreSQL: not tested (no server given)\n");
        } else {
            /* The primary stands in for its own standby here: reads go
             * through the replica pool (tests/it/engines.rs has the real
             * standby). */
            pg_options = custdb_options_new();
            EXPECT(custdb_options_set_read_replica(pg_options, server), CUSTDB_OK);
            EXPECT(custdb_open_postgres(server, pg_options, &pg), CUSTDB_OK);
            custdb_options_free(pg_options);
            EXPECT(custdb_changes_create_consumer(pg, "pg-follower", "now", 0, &out), CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_customer_create(pg, "{\"display_name\":\"Ann\",\"email\":\"ann@example.com\"}", &out),
                   CUSTDB_OK);
            take(&out, "id", customer, sizeof customer);
            EXPECT(custdb_customer_create(pg, "{\"display_name\":\"Other\",\"email\":\"ann@example.com\"}", &out),
                   CUSTDB_ERR_ALREADY_EXISTS);
            EXPECT(custdb_product_create(pg,
                       "{\"name\":\"Tea\",\"variants\":[{\"sku\":\"TEA\",\"price\":\"4.50\",\"currency\":\"GBP\"}]}",
                       &out),
                   CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_variant_get_by_sku(pg, "TEA", &out), CUSTDB_OK);
            take(&out, "id", variant, sizeof variant);
            EXPECT(custdb_warehouse_create(pg, "{\"code\":\"N\",\"name\":\"North\"}", &out), CUSTDB_OK);
            take(&out, "id", north, sizeof north);
            EXPECT(custdb_stock_receive(pg, variant, north, 3, &out), CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            snprintf(json, sizeof json,
                     "{\"customer_id\":\"%s\",\"currency\":\"GBP\",\"lines\":[{\"sku\":\"TEA\",\"quantity\":2}]}",
                     customer);
            EXPECT(custdb_order_place(pg, json, &out), CUSTDB_OK);
            take(&out, "id", order, sizeof order);
            EXPECT(custdb_order_place(pg, json, &out), CUSTDB_ERR_SHORTFALL);
            EXPECT(custdb_order_pay(pg, order, "{\"method\":\"card\",\"amount\":\"9.00\"}", &out), CUSTDB_OK);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_order_get(pg, order, &out), CUSTDB_OK);
            take(&out, "status", json, sizeof json);
            CHECK(strcmp(json, "paid") == 0);
            /* The feed on PostgreSQL: events become visible after the chain step. */
            EXPECT(custdb_changes_wait(pg, "pg-follower", 100, 10000, &out), CUSTDB_OK);
            CHECK(out != NULL && strstr(out, "\"kind\":\"customer.created\"") != NULL);
            take(&out, NULL, NULL, 0);
            EXPECT(custdb_backup(pg, "/nonexistent/b.db", &pages), CUSTDB_ERR_UNSUPPORTED);
            EXPECT(custdb_check(pg, &out), CUSTDB_OK);
            CHECK(out != NULL && strcmp(out, "[]") == 0);
            take(&out, NULL, NULL, 0);
            custdb_close(pg);
            printf("PostgreSQL: store opened, order placed and paid, check clean\n");
        }
    }

    if (failures != 0) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all C API checks passed\n");
    return 0;
}
