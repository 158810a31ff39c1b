/* A small shop back end in C: the catalog and stock, customers signing up
 * (customer, address and consent in one unit of work), orders paid by card
 * (authorized, then captured), shipped and delivered, a return with a
 * refund, a cancellation, the day's reports, a marketing segment, an
 * auditor reading through an actor handle (masked, no writes), a
 * retention plan, an export, the audit check and a backup. It reads custdb's JSON answers with cJSON (Debian:
 * libcjson-dev).
 *
 *   cargo build -p custdb-capi
 *   cc -std=c11 -Wall -Wextra -pedantic -I capi/include examples/c/shop.c \
 *      -L target/debug -lcustdb -Wl,-rpath,"$PWD/target/debug" -lcjson -o shop
 *   ./shop                      # makes custdb-shop-c.db in the current directory
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "custdb.h"

static custdb_store *db = NULL;

/* Prints what failed with custdb's message, and ends the program. */
static void die(const char *what, custdb_status status) {
    fprintf(stderr, "%s failed (%d): %s\n", what, (int)status,
            db != NULL ? custdb_errmsg(db) : custdb_last_error());
    custdb_close(db);
    exit(1);
}

/* Parses a JSON answer with cJSON and frees custdb's string. */
static cJSON *parsed(char *json) {
    cJSON *value = cJSON_Parse(json);
    custdb_string_free(json);
    if (value == NULL) {
        fprintf(stderr, "custdb answered text that is not JSON\n");
        exit(1);
    }
    return value;
}

/* Copies the string field `key` of a JSON object into `out`. */
static void field(const cJSON *object, const char *key, char *out, size_t size) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (!cJSON_IsString(item)) {
        fprintf(stderr, "no string field %s\n", key);
        exit(1);
    }
    snprintf(out, size, "%s", item->valuestring);
}

/* The JSON answer of the last call, for the helpers below to take. */
static char *last = NULL;

/* Calls a function that answers one JSON object (into `last`) and keeps
 * its "id". */
#define CALL_ID(call, id_out)                                    \
    do {                                                         \
        custdb_status rc_ = (call);                              \
        cJSON *doc_;                                             \
        if (rc_ != CUSTDB_OK) die(#call, rc_);                   \
        doc_ = parsed(last);                                     \
        last = NULL;                                             \
        field(doc_, "id", (id_out), sizeof(id_out));             \
        cJSON_Delete(doc_);                                      \
    } while (0)

struct signup {
    const char *name, *email, *country, *city, *street, *postcode;
};

static const struct signup SIGNUPS[] = {
    {"Ada Lovelace", "ada@example.com", "GB", "London", "12 St James's Square", "SW1Y 4JH"},
    {"Grace Hopper", "grace@example.org", "US", "Arlington", "1 Navy Way", "22202"},
    {"Katherine Johnson", "katherine@example.net", "US", "Hampton", "4 Langley Blvd", "23681"},
};

/* A customer signs up: the customer, her address and her consent to the
 * newsletter are one unit of work, all three or none. */
static void sign_up(const struct signup *s, char *id, size_t id_size) {
    char json[1024];
    custdb_status rc;
    cJSON *doc;

    if ((rc = custdb_begin(db)) != CUSTDB_OK) die("custdb_begin", rc);
    snprintf(json, sizeof json, "{\"display_name\":\"%s\",\"email\":\"%s\"}", s->name, s->email);
    rc = custdb_customer_create(db, json, &last);
    if (rc != CUSTDB_OK) { custdb_rollback(db); die("custdb_customer_create", rc); }
    doc = parsed(last);
    last = NULL;
    field(doc, "id", id, id_size);
    cJSON_Delete(doc);
    snprintf(json, sizeof json,
             "{\"kind\":\"shipping\",\"line1\":\"%s\",\"city\":\"%s\",\"country\":\"%s\","
             "\"postal_code\":\"%s\",\"make_default\":true}",
             s->street, s->city, s->country, s->postcode);
    rc = custdb_customer_add_address(db, id, json, &last);
    if (rc != CUSTDB_OK) { custdb_rollback(db); die("custdb_customer_add_address", rc); }
    custdb_string_free(last);
    snprintf(json, sizeof json,
             "{\"customer_id\":\"%s\",\"purpose_id\":\"newsletter\",\"state\":\"given\","
             "\"collection_method\":\"web_form\",\"notice\":{\"version\":\"2026-01\",\"text\":\"News by email\"},"
             "\"channel\":\"web\",\"jurisdiction\":\"%s\",\"language\":\"en\"}",
             id, s->country);
    rc = custdb_consent_record(db, json, &last);
    if (rc != CUSTDB_OK) { custdb_rollback(db); die("custdb_consent_record", rc); }
    custdb_string_free(last);
    last = NULL;
    if ((rc = custdb_commit(db)) != CUSTDB_OK) die("custdb_commit", rc);
}

/* Places an order and pays it by card: authorized, then captured. */
static void order_and_pay(const char *customer, const char *sku, int quantity, const char *key,
                          char *order, size_t order_size) {
    char json[1024], payment[64], due[64];
    custdb_status rc;
    cJSON *doc;

    snprintf(json, sizeof json,
             "{\"customer_id\":\"%s\",\"currency\":\"GBP\",\"lines\":[{\"sku\":\"%s\",\"quantity\":%d}],"
             "\"shipping\":\"3.95\",\"idempotency_key\":\"%s\"}",
             customer, sku, quantity, key);
    if ((rc = custdb_order_place(db, json, &last)) != CUSTDB_OK) die("custdb_order_place", rc);
    doc = parsed(last);
    last = NULL;
    field(doc, "id", order, order_size);
    field(cJSON_GetObjectItemCaseSensitive(doc, "total"), "amount", due, sizeof due);
    cJSON_Delete(doc);
    snprintf(json, sizeof json,
             "{\"method\":\"card\",\"amount\":\"%s\",\"provider\":\"psp\",\"provider_reference\":\"auth-%s\"}",
             due, key);
    if ((rc = custdb_order_authorize_payment(db, order, json, &last)) != CUSTDB_OK)
        die("custdb_order_authorize_payment", rc);
    doc = parsed(last);
    last = NULL;
    field(doc, "id", payment, sizeof payment);
    cJSON_Delete(doc);
    if ((rc = custdb_payment_capture(db, payment, &last)) != CUSTDB_OK) die("custdb_payment_capture", rc);
    custdb_string_free(last);
    last = NULL;
    printf("order %s: %d x %s, paid %s GBP\n", order, quantity, sku, due);
}

int main(void) {
    custdb_options *options = custdb_options_new();
    custdb_status rc;
    char customers[3][64], orders[3][64], north[64], json[1024];
    custdb_audit_verification verification;
    int64_t available = 0;
    uint64_t pages = 0;
    custdb_export_report exported = {0, 0};
    size_t i;
    cJSON *doc, *item;

    remove("custdb-shop-c.db");
    remove("custdb-shop-c.db-wal");
    remove("custdb-shop-c.db-shm");
    remove("custdb-shop-c-customers.csv");
    remove("custdb-shop-c-backup.db");
    custdb_options_set_actor(options, "shop-c", "C shop back end");
    rc = custdb_open("custdb-shop-c.db", options, &db);
    custdb_options_free(options);
    if (rc != CUSTDB_OK) die("custdb_open", rc);

    /* The catalog, a warehouse, stock. */
    rc = custdb_product_create(db,
        "{\"name\":\"Loose leaf tea\",\"variants\":["
        "{\"sku\":\"TEA-100\",\"title\":\"100 g\",\"price\":\"4.50\",\"currency\":\"GBP\"},"
        "{\"sku\":\"TEA-500\",\"title\":\"500 g\",\"price\":\"18.00\",\"currency\":\"GBP\"}]}", &last);
    if (rc != CUSTDB_OK) die("custdb_product_create", rc);
    custdb_string_free(last);
    last = NULL;
    CALL_ID(custdb_warehouse_create(db, "{\"code\":\"N\",\"name\":\"North\",\"priority\":1}", &last), north);
    {
        const char *skus[] = {"TEA-100", "TEA-500"};
        char variant[64];
        for (i = 0; i < 2; i++) {
            CALL_ID(custdb_variant_get_by_sku(db, skus[i], &last), variant);
            if ((rc = custdb_stock_receive(db, variant, north, 40, &last)) != CUSTDB_OK)
                die("custdb_stock_receive", rc);
            custdb_string_free(last);
            last = NULL;
            snprintf(json, sizeof json, "{\"reorder_point\":40,\"target_level\":60,\"order_multiple\":10}");
            if ((rc = custdb_stock_set_replenishment_rule(db, variant, north, json)) != CUSTDB_OK)
                die("custdb_stock_set_replenishment_rule", rc);
        }
    }
    rc = custdb_purpose_register(db,
        "{\"id\":\"newsletter\",\"description\":\"The monthly newsletter\",\"lawful_basis\":\"consent\","
        "\"consent_required\":true,\"data_categories\":[\"contact\"]}", &last);
    if (rc != CUSTDB_OK) die("custdb_purpose_register", rc);
    custdb_string_free(last);
    last = NULL;

    /* Customers sign up; each buys. */
    for (i = 0; i < 3; i++) {
        char key[32];
        sign_up(&SIGNUPS[i], customers[i], sizeof customers[i]);
        snprintf(key, sizeof key, "checkout-%u", (unsigned)i + 1);
        order_and_pay(customers[i], i == 1 ? "TEA-500" : "TEA-100", (int)i + 2, key, orders[i], sizeof orders[i]);
    }
    /* A retry of the first checkout returns the first order, not a second one. */
    {
        char again[64];
        snprintf(json, sizeof json,
                 "{\"customer_id\":\"%s\",\"currency\":\"GBP\",\"lines\":[{\"sku\":\"TEA-100\",\"quantity\":2}],"
                 "\"shipping\":\"3.95\",\"idempotency_key\":\"checkout-1\"}", customers[0]);
        CALL_ID(custdb_order_place(db, json, &last), again);
        printf("retried checkout-1: %s\n", strcmp(again, orders[0]) == 0 ? "the same order" : "A SECOND ORDER");
    }

    /* Ship and deliver the first two. */
    for (i = 0; i < 2; i++) {
        if ((rc = custdb_order_ship(db, orders[i], "{\"carrier\":\"Royal Mail\",\"tracking_number\":\"RM1\"}", &last))
            != CUSTDB_OK)
            die("custdb_order_ship", rc);
        custdb_string_free(last);
        last = NULL;
        if ((rc = custdb_order_deliver(db, orders[i])) != CUSTDB_OK) die("custdb_order_deliver", rc);
    }
    rc = custdb_order_return(db, orders[1],
        "{\"reason\":\"damaged in transit\",\"lines\":[{\"sku\":\"TEA-500\",\"quantity\":1,\"restock\":false}]}", &last);
    if (rc != CUSTDB_OK) die("custdb_order_return", rc);
    custdb_string_free(last);
    last = NULL;
    if ((rc = custdb_order_refund(db, orders[1], "{\"amount\":\"18.00\",\"reason\":\"damaged in transit\"}", &last))
        != CUSTDB_OK)
        die("custdb_order_refund", rc);
    custdb_string_free(last);
    last = NULL;
    /* The third customer changes her mind before shipping: a full refund
     * gives her money back and releases what the order held. */
    if ((rc = custdb_order_get(db, orders[2], &last)) != CUSTDB_OK) die("custdb_order_get", rc);
    doc = parsed(last);
    last = NULL;
    snprintf(json, sizeof json, "{\"amount\":\"%s\",\"reason\":\"changed her mind\"}",
             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                 cJSON_GetObjectItemCaseSensitive(doc, "total"), "amount")));
    cJSON_Delete(doc);
    if ((rc = custdb_order_refund(db, orders[2], json, &last)) != CUSTDB_OK) die("custdb_order_refund", rc);
    custdb_string_free(last);
    last = NULL;
    /* An unpaid order (an abandoned checkout) is cancelled. */
    {
        char abandoned[64];
        snprintf(json, sizeof json,
                 "{\"customer_id\":\"%s\",\"currency\":\"GBP\",\"lines\":[{\"sku\":\"TEA-500\",\"quantity\":1}]}",
                 customers[0]);
        CALL_ID(custdb_order_place(db, json, &last), abandoned);
        if ((rc = custdb_order_cancel(db, abandoned, "checkout abandoned")) != CUSTDB_OK) die("custdb_order_cancel", rc);
    }

    /* What the shop sees at the end of the day. */
    if ((rc = custdb_order_list_by_status(db, "delivered", NULL, 100, &last)) != CUSTDB_OK)
        die("custdb_order_list_by_status", rc);
    doc = parsed(last);
    last = NULL;
    printf("delivered orders: %d\n", cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "items")));
    cJSON_Delete(doc);
    {
        char variant[64];
        CALL_ID(custdb_variant_get_by_sku(db, "TEA-100", &last), variant);
        if ((rc = custdb_stock_available(db, variant, &available)) != CUSTDB_OK) die("custdb_stock_available", rc);
        printf("TEA-100 available: %lld\n", (long long)available);
    }
    if ((rc = custdb_stock_replenishment_suggestions(db, &last)) != CUSTDB_OK)
        die("custdb_stock_replenishment_suggestions", rc);
    doc = parsed(last);
    last = NULL;
    cJSON_ArrayForEach(item, doc) {
        const cJSON *level = cJSON_GetObjectItemCaseSensitive(item, "level");
        printf("reorder: variant %s, %d units\n",
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(level, "variant_id")),
               (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(item, "quantity")));
    }
    cJSON_Delete(doc);
    if ((rc = custdb_report_revenue_by_period(db, "day", NULL, NULL, &last)) != CUSTDB_OK)
        die("custdb_report_revenue_by_period", rc);
    doc = parsed(last);
    last = NULL;
    cJSON_ArrayForEach(item, doc) {
        /* Each row: {"key":{"period":"2026-12-03"},"gross":{"amount":"...","currency":"GBP"},...} */
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(item, "key");
        const cJSON *net = cJSON_GetObjectItemCaseSensitive(item, "net");
        printf("revenue %s: net %s %s\n",
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(key, "period")),
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(net, "amount")),
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(net, "currency")));
    }
    cJSON_Delete(doc);
    if ((rc = custdb_consent_consenting(db, "newsletter", NULL, NULL, 100, &last)) != CUSTDB_OK)
        die("custdb_consent_consenting", rc);
    doc = parsed(last);
    last = NULL;
    printf("newsletter recipients: %d\n", cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "items")));
    cJSON_Delete(doc);

    /* Marketing: who consents to the newsletter and has bought (a segment,
     * saved for next time). */
    if ((rc = custdb_segment_save(db, "newsletter-buyers", "{\"consents_to\":\"newsletter\",\"min_orders\":1}"))
        != CUSTDB_OK)
        die("custdb_segment_save", rc);
    if ((rc = custdb_segment_evaluate_saved(db, "newsletter-buyers", NULL, 100, &last)) != CUSTDB_OK)
        die("custdb_segment_evaluate_saved", rc);
    doc = parsed(last);
    last = NULL;
    printf("segment newsletter-buyers: %d customers\n", cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "items")));
    cJSON_Delete(doc);

    /* An auditor reads through an actor handle: checked against its
     * roles, personal data masked, and no writes. */
    {
        custdb_actor *auditor = NULL;
        if ((rc = custdb_access_grant(db, "olga", "auditor", &last)) != CUSTDB_OK) die("custdb_access_grant", rc);
        custdb_string_free(last);
        last = NULL;
        if ((rc = custdb_actor_open(db, "olga", "Olga (audit)", &auditor)) != CUSTDB_OK) die("custdb_actor_open", rc);
        if ((rc = custdb_actor_customer_get(auditor, customers[0], &last)) != CUSTDB_OK) {
            fprintf(stderr, "auditor read failed: %s\n", custdb_actor_errmsg(auditor));
            custdb_actor_close(auditor);
            die("custdb_actor_customer_get", rc);
        }
        doc = parsed(last);
        last = NULL;
        printf("the auditor sees: %s\n", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "display_name")));
        cJSON_Delete(doc);
        rc = custdb_actor_customer_archive(auditor, customers[0], &last);
        printf("the auditor archives a customer: %s\n",
               rc == CUSTDB_ERR_PERMISSION_DENIED ? "permission denied" : "ALLOWED");
        custdb_actor_close(auditor);
    }

    /* Retention: interactions are kept two years; what would go today. */
    if ((rc = custdb_retention_rule_set(db, "interactions", 730, &last)) != CUSTDB_OK)
        die("custdb_retention_rule_set", rc);
    custdb_string_free(last);
    last = NULL;
    if ((rc = custdb_retention_plan(db, NULL, &last)) != CUSTDB_OK) die("custdb_retention_plan", rc);
    doc = parsed(last);
    last = NULL;
    printf("retention today: %d tables to trim\n", cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "actions")));
    cJSON_Delete(doc);

    /* The operator's end of day: export, audit, backup, check. */
    if ((rc = custdb_export_customers(db, "custdb-shop-c-customers.csv", "csv", &exported)) != CUSTDB_OK)
        die("custdb_export_customers", rc);
    printf("exported %llu customers at change-feed position %lld\n", (unsigned long long)exported.rows,
           (long long)exported.feed_position);
    if ((rc = custdb_audit_verify(db, &verification)) != CUSTDB_OK) die("custdb_audit_verify", rc);
    printf("audit: %llu entries, %s\n", (unsigned long long)verification.entries,
           verification.ok ? "chain intact" : "BROKEN");
    if ((rc = custdb_backup(db, "custdb-shop-c-backup.db", &pages)) != CUSTDB_OK) die("custdb_backup", rc);
    printf("backup: %llu pages\n", (unsigned long long)pages);
    if ((rc = custdb_check(db, &last)) != CUSTDB_OK) die("custdb_check", rc);
    printf("check: %s\n", strcmp(last, "[]") == 0 ? "ok" : last);
    custdb_string_free(last);
    custdb_close(db);
    return 0;
}
