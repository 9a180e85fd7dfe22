/* test_query.c: the queries against brute-force computations over inserted data, the
 * equation, labels, the .npy export, and the commands' three output formats. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cJSON.h>

#include "query.h"
#include "sf_util.h"
#include "store.h"
#include "store_fixture.h"

static char dir[64];
static char db_path[128];
static fixture_run fx;
static int64_t run_id;

/* 300 galaxies, d = 48 of which 20 live, k = 4, two targets. */
static void setup(void) {
    fixture_tmpdir(dir, sizeof dir);
    cr_assert(dir[0]);
    snprintf(db_path, sizeof db_path, "%s/run.db", dir);
    fixture_make(&fx, 300, 48, 4, 2, 20, 1237648704043942000LL, 11);
    snprintf(fx.in.run.prefix, sizeof fx.in.run.prefix, "SL");
    store *s = NULL;
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_add_run(s, &fx.in, &run_id), SF_OK, "%s", sf_last_error());
    store_close(s);
}

static void teardown(void) {
    fixture_free(&fx);
    fixture_rmdir(dir);
}

TestSuite(query, .init = setup, .fini = teardown);

static store *open_read(void) {
    store *s = NULL;
    cr_assert_eq(store_open(&s, db_path, STORE_READ), SF_OK, "%s", sf_last_error());
    return s;
}

Test(query, feature_statistics_match_brute_force) {
    store *s = open_read();
    store_feature *f = NULL;
    int n = 0;
    cr_assert_eq(store_features(s, run_id, STORE_SORT_FEATURE, 1, &f, &n), SF_OK);
    cr_assert_eq(n, fx.d);
    int n_valid = 0;
    for (int i = 0; i < fx.n; i++) n_valid += fx.split[i];
    for (int q = 0; q < n; q++) {
        int feat = f[q].feature;
        cr_assert_eq(feat, q, "sorted by feature number");
        int n_act = 0, n_act_v = 0;
        double mx = 0, mx_v = 0, sum = 0;
        for (int i = 0; i < fx.n; i++) {
            double a = fixture_act(&fx, i, feat);
            if (a <= 0) continue;
            n_act++;
            sum += a;
            if (a > mx) mx = a;
            if (fx.split[i]) {
                n_act_v++;
                if (a > mx_v) mx_v = a;
            }
        }
        cr_assert_eq(f[q].n_active, n_act, "feature %d", feat);
        cr_assert_eq(f[q].n_active_valid, n_act_v);
        cr_assert_float_eq(f[q].f_activated, (double)n_act_v / n_valid, 1e-12);
        cr_assert_float_eq(f[q].max, mx, 1e-6);
        cr_assert_float_eq(f[q].max_valid, mx_v, 1e-6);
        cr_assert_float_eq(f[q].mean, n_act ? sum / n_act : 0, 1e-6);
        for (int t = 0; t < fx.n_out; t++) {
            cr_assert_float_eq(f[q].weight[t], fx.head_w[t * fx.d + feat], 1e-6);
            /* Pearson of the scaled activation with the truth, over validation galaxies */
            double sa = 0, sy = 0, saa = 0, syy = 0, say = 0;
            for (int i = 0; i < fx.n; i++) {
                if (!fx.split[i]) continue;
                double a = mx_v > 0 ? fixture_act(&fx, i, feat) / mx_v : 0;
                double y = fx.truth[i * fx.n_out + t];
                sa += a;
                sy += y;
                saa += a * a;
                syy += y * y;
                say += a * y;
            }
            double cov = say / n_valid - sa / n_valid * sy / n_valid;
            double va = saa / n_valid - (sa / n_valid) * (sa / n_valid);
            double vy = syy / n_valid - (sy / n_valid) * (sy / n_valid);
            if (n_act_v == 0) {
                cr_assert(isnan(f[q].pearson[t]), "dead on validation: undefined");
            } else {
                cr_assert_float_eq(f[q].pearson[t], cov / sqrt(va * vy), 1e-6,
                                   "feature %d target %d", feat, t);
            }
        }
    }
    free(f);
    /* dead ones hidden by default; sorted by frequency */
    cr_assert_eq(store_features(s, run_id, STORE_SORT_FREQUENCY, 0, &f, &n), SF_OK);
    cr_assert_eq(n, 20);
    for (int i = 1; i < n; i++) {
        cr_assert(f[i - 1].n_active_valid >= f[i].n_active_valid);
        if (f[i - 1].n_active_valid == f[i].n_active_valid)
            cr_assert(f[i - 1].n_active >= f[i].n_active);
    }
    free(f);
    cr_assert_eq(store_features(s, run_id, STORE_SORT_WEIGHT, 0, &f, &n), SF_OK);
    for (int i = 1; i < n; i++) cr_assert(fabs(f[i - 1].weight[0]) >= fabs(f[i].weight[0]));
    free(f);
    store_close(s);
}

Test(query, top_is_sorted_and_equals_brute_force) {
    store *s = open_read();
    for (int feat = 0; feat < 22; feat++) {
        for (int split = -1; split <= 1; split++) {
            store_hit *hits = NULL;
            int nh = 0;
            cr_assert_eq(store_top(s, run_id, feat, 15, split, &hits, &nh), SF_OK);
            /* brute force: (value desc, objID asc == insertion order == galaxy id asc) */
            int idx[300], m = 0;
            for (int i = 0; i < fx.n; i++)
                if (fixture_act(&fx, i, feat) > 0 && (split < 0 || fx.split[i] == split))
                    idx[m++] = i;
            for (int a = 0; a < m; a++)
                for (int b = a + 1; b < m; b++) {
                    double va = fixture_act(&fx, idx[a], feat), vb = fixture_act(&fx, idx[b], feat);
                    if (vb > va || (vb == va && idx[b] < idx[a])) {
                        int tmp = idx[a];
                        idx[a] = idx[b];
                        idx[b] = tmp;
                    }
                }
            int expect = m < 15 ? m : 15;
            cr_assert_eq(nh, expect, "feature %d split %d", feat, split);
            for (int r = 0; r < nh; r++) {
                cr_assert_str_eq(hits[r].objid, fx.objid[idx[r]], "feature %d rank %d", feat, r);
                cr_assert_float_eq(hits[r].value, fixture_act(&fx, idx[r], feat), 1e-6);
                if (r) cr_assert(hits[r].value <= hits[r - 1].value);
                if (split >= 0) cr_assert_eq(hits[r].split, split);
            }
            free(hits);
        }
    }
    /* every hit of a feature */
    store_hit *hits = NULL;
    int nh = 0;
    cr_assert_eq(store_feature_hits(s, run_id, 3, &hits, &nh), SF_OK);
    int m = 0;
    for (int i = 0; i < fx.n; i++) m += fixture_act(&fx, i, 3) > 0;
    cr_assert_eq(nh, m);
    free(hits);
    cr_assert_eq(store_top(s, run_id, 48, 5, -1, &hits, &nh), SF_ERR, "feature out of range");
    store_close(s);
}

Test(query, equation_rmse_with_all_features_is_the_models) {
    store *s = open_read();
    query_equation eq;
    cr_assert_eq(query_equation_compute(s, run_id, &eq), SF_OK, "%s", sf_last_error());
    cr_assert_eq(eq.n_terms, 20);
    cr_assert_eq(eq.n_levels, 5);
    cr_assert_eq(eq.level_terms[0], 1);
    cr_assert_eq(eq.level_terms[3], 8);
    cr_assert_eq(eq.level_terms[4], 20);
    cr_assert_float_eq(eq.rmse[4], fx.in.run.valid_rmse, 1e-5, "all features %.7f vs model %.7f",
                       eq.rmse[4], fx.in.run.valid_rmse);
    cr_assert_float_eq(eq.model_valid_rmse, fx.in.run.valid_rmse, 1e-12);
    for (int i = 1; i < eq.n_terms; i++)
        cr_assert(eq.terms[i - 1].f_activated >= eq.terms[i].f_activated);
    /* intercept and coefficients in target units */
    for (int t = 0; t < 2; t++) {
        cr_assert_float_eq(eq.intercept[t],
                           fx.in.run.target_mean[t] + fx.in.run.target_std[t] * fx.in.run.bias[t],
                           1e-9);
        const query_term *q = &eq.terms[0];
        cr_assert_float_eq(
            q->coef[t], fx.in.run.target_std[t] * fx.head_w[t * fx.d + q->feature] * q->max_valid,
            1e-6);
    }
    /* top-2 by brute force: zero all but the two most frequent features */
    int keep[2] = {eq.terms[0].feature, eq.terms[1].feature};
    double se = 0;
    int nv = 0;
    for (int i = 0; i < fx.n; i++) {
        if (!fx.split[i]) continue;
        nv++;
        for (int t = 0; t < 2; t++) {
            double z = fx.in.run.bias[t];
            for (int j = 0; j < 2; j++)
                z += fx.head_w[t * fx.d + keep[j]] * fixture_act(&fx, i, keep[j]);
            double e = z * fx.in.run.target_std[t] + fx.in.run.target_mean[t] - fx.truth[i * 2 + t];
            se += e * e;
        }
    }
    cr_assert_float_eq(eq.rmse[1], sqrt(se / (2.0 * nv)), 1e-6);
    double r = 0, rt[STORE_MAX_TARGETS];
    cr_assert_eq(query_rmse_with_features(s, run_id, keep, 2, &r, rt), SF_OK);
    cr_assert_float_eq(r, eq.rmse[1], 1e-12);
    cr_assert_eq(query_rmse_with_features(s, run_id, NULL, -1, &r, rt), SF_OK);
    cr_assert_float_eq(r, eq.rmse[4], 1e-12);
    query_equation_clear(&eq);
    store_close(s);
}

Test(query, label_round_trip) {
    store *s = NULL;
    cr_assert_eq(store_open(&s, db_path, STORE_WRITE), SF_OK);
    const char *text = "AGN-like: high [NII]/Hα, 'quotes' \"too\"; DROP TABLE runs; --";
    cr_assert_eq(store_feature_label(s, run_id, 7, text, "a note\nover lines"), SF_OK, "%s",
                 sf_last_error());
    store_close(s);
    s = open_read();
    store_feature f;
    cr_assert_eq(store_feature_get(s, run_id, 7, &f), SF_OK);
    cr_assert_str_eq(f.label, text);
    cr_assert_str_eq(f.note, "a note\nover lines");
    cr_assert_float_eq(f.weight[1], fx.head_w[1 * fx.d + 7], 1e-6);
    store_close(s);
    cr_assert_eq(store_open(&s, db_path, STORE_WRITE), SF_OK);
    cr_assert_eq(store_feature_label(s, run_id, 7, NULL, ""), SF_OK, "note cleared, label kept");
    cr_assert_eq(store_feature_get(s, run_id, 7, &f), SF_OK);
    cr_assert_str_eq(f.label, text);
    cr_assert_str_eq(f.note, "");
    cr_assert_eq(store_feature_label(s, run_id, 7, "", NULL), SF_OK);
    cr_assert_eq(store_feature_get(s, run_id, 7, &f), SF_OK);
    cr_assert_str_eq(f.label, "");
    cr_assert_eq(store_feature_label(s, run_id, 4800, "x", NULL), SF_ERR);
    char big[STORE_LABEL_MAX + 10];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cr_assert_eq(store_feature_label(s, run_id, 7, big, NULL), SF_ERR);
    cr_assert(strstr(sf_last_error(), "too long"));
    /* the runs table survived the label text */
    store_run r;
    cr_assert_eq(store_run_find(s, "SL", &r), SF_OK);
    store_run_clear(&r);
    store_close(s);
}

/* Reads the .npy written by the export: header fields, then the data. */
Test(query, npy_export_reads_back) {
    store *s = open_read();
    char npy[192], ids[192];
    snprintf(npy, sizeof npy, "%s/act.npy", dir);
    cr_assert_eq(query_export_npy(s, run_id, npy), SF_OK, "%s", sf_last_error());
    store_close(s);
    query_objids_path(npy, ids, sizeof ids);
    cr_assert(strstr(ids, "act.objids.txt"), "%s", ids);
    char *data = NULL;
    size_t len = 0;
    cr_assert_eq(sf_read_file(npy, &data, &len), SF_OK);
    cr_assert(!memcmp(data, "\x93NUMPY\x01\x00", 8));
    size_t hlen = (size_t)(unsigned char)data[8] | (size_t)(unsigned char)data[9] << 8;
    cr_assert_eq((10 + hlen) % 64, 0, "data aligned to 64 bytes");
    char header[256];
    cr_assert_lt(hlen, sizeof header);
    memcpy(header, data + 10, hlen);
    header[hlen] = 0;
    cr_assert(strstr(header, "'descr': '<f4'"), "%s", header);
    cr_assert(strstr(header, "'fortran_order': False"), "%s", header);
    cr_assert(strstr(header, "'shape': (300, 48)"), "%s", header);
    cr_assert_eq(header[hlen - 1], '\n');
    cr_assert_eq(len, 10 + hlen + 300 * 48 * 4);
    const char *body = data + 10 + hlen;
    char *ids_text = NULL;
    size_t ids_len = 0;
    cr_assert_eq(sf_read_file(ids, &ids_text, &ids_len), SF_OK);
    char *save = NULL, *line = strtok_r(ids_text, "\n", &save);
    int row = 0;
    while (line) {
        int i = -1;
        for (int q = 0; q < fx.n; q++)
            if (!strcmp(fx.objid[q], line)) i = q;
        cr_assert_geq(i, 0, "objID %s", line);
        for (int f = 0; f < 48; f++) {
            float v;
            memcpy(&v, body + ((size_t)row * 48 + f) * 4, 4);
            cr_assert_float_eq(v, (float)fixture_act(&fx, i, f), 1e-7, "row %d feature %d", row, f);
        }
        row++;
        line = strtok_r(NULL, "\n", &save);
    }
    cr_assert_eq(row, 300);
    free(ids_text);
    free(data);
}

Test(query, resolve_feature_words) {
    store *s = open_read();
    store_run r;
    int f = -1;
    char *one[] = {"SL 17"};
    cr_assert_eq(query_resolve_feature(s, 1, one, &r, &f), SF_OK, "%s", sf_last_error());
    cr_assert_eq(f, 17);
    cr_assert_str_eq(r.prefix, "SL");
    store_run_clear(&r);
    char *two[] = {"SL", "5"};
    cr_assert_eq(query_resolve_feature(s, 2, two, &r, &f), SF_OK);
    cr_assert_eq(f, 5);
    store_run_clear(&r);
    char *bare[] = {"9"};
    cr_assert_eq(query_resolve_feature(s, 1, bare, &r, &f), SF_OK, "one run: no prefix needed");
    store_run_clear(&r);
    char *wrong[] = {"Z", "SL5"};
    cr_assert_eq(query_resolve_feature(s, 2, wrong, &r, &f), SF_ERR);
    char *out[] = {"SL48"};
    cr_assert_eq(query_resolve_feature(s, 1, out, &r, &f), SF_ERR);
    cr_assert(strstr(sf_last_error(), "0..47"), "%s", sf_last_error());
    store_close(s);
}

Test(query, table_formats) {
    static const char *const cols[] = {"name", "n", "x"};
    query_table *t = query_table_new(3, cols);
    query_table_text(t, "a,\"b\"");
    query_table_int(t, 3);
    query_table_num(t, 0.125, 2);
    query_table_text(t, NULL);
    query_table_int(t, -1);
    query_table_num(t, NAN, 2);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(query_table_print(t, f, QUERY_CSV), SF_OK);
    fclose(f);
    cr_assert_str_eq(buf, "name,n,x\r\n\"a,\"\"b\"\"\",3,0.12\r\n,-1,\r\n");
    free(buf);
    f = open_memstream(&buf, &len);
    cr_assert_eq(query_table_print(t, f, QUERY_JSON), SF_OK);
    fclose(f);
    cJSON *root = cJSON_Parse(buf);
    cr_assert(cJSON_IsArray(root));
    cr_assert_eq(cJSON_GetArraySize(root), 2);
    cJSON *r0 = cJSON_GetArrayItem(root, 0);
    cr_assert_str_eq(cJSON_GetObjectItem(r0, "name")->valuestring, "a,\"b\"");
    cr_assert_float_eq(cJSON_GetObjectItem(r0, "x")->valuedouble, 0.125, 1e-12, "full precision");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(root, 1), "x")));
    cJSON_Delete(root);
    free(buf);
    f = open_memstream(&buf, &len);
    cr_assert_eq(query_table_print(t, f, QUERY_TEXT), SF_OK);
    fclose(f);
    cr_assert(strstr(buf, "name    n     x\na,\"b\"   3  0.12\n-      -1     -\n"), "%s", buf);
    free(buf);
    query_table_free(t);
}

/* ---- the commands, through the binary --------------------------------------------- */

static const char *binary(void) {
    const char *env = getenv("SFNET_BIN");
    if (env && *env) return env;
#ifdef __SANITIZE_ADDRESS__
    return "build-san/sfnet-explore";
#else
    return "build/sfnet-explore";
#endif
}

/* Runs the binary with args; returns its stdout (owned) and exit status. */
static char *run_cli(const char *args, int *status) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s 2>/dev/null", binary(), args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    size_t got;
    while ((got = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 2) out = realloc(out, cap *= 2);
    }
    out[len] = 0;
    int rc = pclose(p);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return out;
}

Test(query, commands_print_text_json_and_csv) {
    char args[512];
    int st = 0;
    snprintf(args, sizeof args, "runs --json %s", db_path);
    char *out = run_cli(args, &st);
    cr_assert_eq(st, 0, "%s", out);
    cJSON *root = cJSON_Parse(out);
    cr_assert(cJSON_IsArray(root), "%s", out);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(root, 0), "prefix")->valuestring, "SL");
    cJSON_Delete(root);
    free(out);

    /* top through the command equals store_top */
    store *s = open_read();
    store_hit *hits = NULL;
    int nh = 0;
    cr_assert_eq(store_top(s, run_id, 2, 5, -1, &hits, &nh), SF_OK);
    store_close(s);
    snprintf(args, sizeof args, "top --csv -n 5 %s SL2", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0);
    char *line = strtok(out, "\r\n");
    cr_assert_str_eq(line, "rank,feature,objid,value,scaled,split");
    for (int i = 0; i < nh; i++) {
        line = strtok(NULL, "\r\n");
        cr_assert_not_null(line);
        char expect[128];
        snprintf(expect, sizeof expect, "%d,SL 2,%s,", i + 1, hits[i].objid);
        cr_assert(!strncmp(line, expect, strlen(expect)), "%s vs %s", line, expect);
    }
    free(hits);
    free(out);

    snprintf(args, sizeof args, "features %s SL", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0);
    cr_assert(strstr(out, "w_target0"), "%s", out);
    cr_assert(strstr(out, "28 dead features hidden"), "%s", out);
    free(out);

    snprintf(args, sizeof args, "equation --json %s", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0);
    root = cJSON_Parse(out);
    cr_assert_not_null(root, "%s", out);
    cJSON *levels = cJSON_GetObjectItem(root, "rmse");
    cJSON *all = cJSON_GetArrayItem(levels, cJSON_GetArraySize(levels) - 1);
    cr_assert_float_eq(cJSON_GetObjectItem(all, "rmse")->valuedouble,
                       cJSON_GetObjectItem(root, "model_valid_rmse")->valuedouble, 1e-5);
    cJSON_Delete(root);
    free(out);

    snprintf(args, sizeof args, "galaxy --json %s %s", db_path, fx.objid[10]);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0, "%s", out);
    root = cJSON_Parse(out);
    cr_assert_not_null(root, "%s", out);
    cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "runs"), 0);
    cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItem(r0, "targets"), 0);
    cr_assert_float_eq(cJSON_GetObjectItem(t0, "prediction")->valuedouble, fx.pred[10 * 2], 1e-5);
    /* prediction = intercept + the contributions of its active features */
    double sum = cJSON_GetObjectItem(t0, "intercept")->valuedouble;
    cJSON *feat;
    cJSON_ArrayForEach(feat, cJSON_GetObjectItem(r0, "features")) sum +=
        cJSON_GetArrayItem(cJSON_GetObjectItem(feat, "contribution"), 0)->valuedouble;
    cr_assert_float_eq(sum, fx.pred[10 * 2], 1e-4);
    cJSON_Delete(root);
    free(out);

    snprintf(args, sizeof args, "label %s SL 3 \"bright bulge\"", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0);
    free(out);
    snprintf(args, sizeof args, "features --csv --sort label %s", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0);
    cr_assert(strstr(out, "\r\nSL 3,"), "labelled first: %s", out);
    cr_assert(strstr(out, ",bright bulge\r\n"), "%s", out);
    free(out);

    /* errors: exit 1 with the message on stderr, usage errors 2 */
    snprintf(args, sizeof args, "top %s SL 99", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 1);
    free(out);
    snprintf(args, sizeof args, "galaxy %s no-such-galaxy", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 1);
    free(out);
    out = run_cli("top", &st);
    cr_assert_eq(st, 2);
    free(out);
    snprintf(args, sizeof args, "runs --delete Z %s", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 1, "no run Z");
    free(out);
    snprintf(args, sizeof args, "runs --delete SL %s", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0);
    cr_assert(strstr(out, "deleted run SL"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "runs --csv %s", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0);
    cr_assert(!strstr(out, "\r\n1,SL"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "runs %s/none.db", dir);
    out = run_cli(args, &st);
    cr_assert_eq(st, 1);
    free(out);
}

Test(query, train_refuses_bad_options_and_foreign_files_before_training) {
    char args[512];
    int st = 0;
    snprintf(args, sizeof args, "--train --catalog x.csv %s/new.db", dir);
    char *out = run_cli(args, &st);
    cr_assert_eq(st, 2, "--catalog without --images");
    free(out);
    snprintf(args, sizeof args, "--train --schedule sawtooth %s/new.db", dir);
    out = run_cli(args, &st);
    cr_assert_eq(st, 2);
    free(out);
    snprintf(args, sizeof args, "--train --k 300 --width 16 %s/new.db", dir);
    out = run_cli(args, &st);
    cr_assert_eq(st, 2, "k above d");
    free(out);
    /* a run name already taken: refused before any data is read */
    snprintf(args, sizeof args,
             "--train --catalog /nonexistent.csv --images /nonexistent --name SL %s", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 1);
    free(out);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s --train --catalog /nonexistent.csv --images /x --name SL %s 2>&1",
             binary(), db_path);
    FILE *p = popen(cmd, "r");
    char msg[512] = "";
    size_t got = fread(msg, 1, sizeof msg - 1, p);
    msg[got] = 0;
    pclose(p);
    cr_assert(strstr(msg, "already has a run named 'SL'"), "%s", msg);
    /* a file that is not ours is left alone */
    char other[160];
    snprintf(other, sizeof other, "%s/notes.txt", dir);
    FILE *f = fopen(other, "w");
    fputs("my notes\n", f);
    fclose(f);
    snprintf(args, sizeof args, "--train --catalog /nonexistent.csv --images /x %s", other);
    out = run_cli(args, &st);
    cr_assert_eq(st, 1);
    free(out);
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(sf_read_file(other, &text, &len), SF_OK);
    cr_assert_str_eq(text, "my notes\n");
    free(text);
    /* and a database the missing catalogue could not train for keeps its runs */
    snprintf(args, sizeof args, "--train --catalog /nonexistent.csv --images /x %s", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 1);
    free(out);
    store *s = open_read();
    store_run *runs = NULL;
    int n = 0;
    cr_assert_eq(store_runs(s, &runs, &n), SF_OK);
    cr_assert_eq(n, 1);
    store_runs_free(runs, n);
    store_close(s);
}

/* ---- similar features, against a two-pass Pearson over the fixture's own activations ---- */

typedef struct {
    int d;
    double *r; /* (d, d) NAN undefined */
    int *both; /* (d, d) */
} brute_coact;

static void brute_coact_make(const fixture_run *f, brute_coact *b) {
    int d = f->d, n = f->n;
    b->d = d;
    b->r = calloc((size_t)d * d, sizeof *b->r);
    b->both = calloc((size_t)d * d, sizeof *b->both);
    double *a = calloc((size_t)n * d, sizeof *a), *mean = calloc((size_t)d, sizeof *mean);
    for (int g = 0; g < n; g++)
        for (int i = 0; i < d; i++) {
            a[(size_t)g * d + i] = fixture_act(f, g, i);
            mean[i] += a[(size_t)g * d + i] / n;
        }
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double sij = 0, sii = 0, sjj = 0;
            int both = 0;
            for (int g = 0; g < n; g++) {
                double x = a[(size_t)g * d + i] - mean[i], y = a[(size_t)g * d + j] - mean[j];
                sij += x * y;
                sii += x * x;
                sjj += y * y;
                both += a[(size_t)g * d + i] > 0 && a[(size_t)g * d + j] > 0;
            }
            b->r[(size_t)i * d + j] = sii > 0 && sjj > 0 ? sij / sqrt(sii * sjj) : NAN;
            b->both[(size_t)i * d + j] = both;
        }
    free(a);
    free(mean);
}

static void brute_coact_free(brute_coact *b) {
    free(b->r);
    free(b->both);
}

/* r of every pair, and each feature's top 5, against the brute force. */
static void check_similar(store *s, int64_t rid, const fixture_run *f) {
    query_coact c;
    cr_assert_eq(query_coact_load(s, rid, &c), SF_OK, "%s", sf_last_error());
    cr_assert_eq(c.n, f->n);
    cr_assert_eq(c.d, f->d);
    brute_coact b;
    brute_coact_make(f, &b);
    int d = f->d, n_defined = 0;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double want = b.r[(size_t)i * d + j], got = query_coact_pearson(&c, i, j);
            if (isnan(want)) {
                cr_assert(isnan(got), "r(%d,%d) = %g of a dead feature", i, j, got);
                continue;
            }
            n_defined++;
            cr_assert_float_eq(got, want, 1e-9, "r(%d,%d) %.12f vs %.12f", i, j, got, want);
            cr_assert_eq(c.n_both[(size_t)i * d + j], b.both[(size_t)i * d + j], "both(%d,%d)", i,
                         j);
        }
    cr_assert_gt(n_defined, d, "some pairs are defined");
    for (int i = 0; i < d; i++) {
        /* the brute-force ranking: r descending among the other defined features */
        double sorted[512];
        int m = 0;
        for (int j = 0; j < d; j++)
            if (j != i && !isnan(b.r[(size_t)i * d + j])) sorted[m++] = b.r[(size_t)i * d + j];
        for (int x = 0; x < m; x++)
            for (int y = x + 1; y < m; y++)
                if (sorted[y] > sorted[x]) {
                    double t = sorted[x];
                    sorted[x] = sorted[y];
                    sorted[y] = t;
                }
        query_similar sim[5];
        int n = query_similar_features(&c, i, 5, sim);
        if (isnan(b.r[(size_t)i * d + i])) {
            cr_assert_eq(n, 0, "dead feature %d has no similar ones", i);
            continue;
        }
        cr_assert_eq(n, m < 5 ? m : 5, "feature %d", i);
        for (int k = 0; k < n; k++) {
            cr_assert_neq(sim[k].feature, i);
            cr_assert_float_eq(sim[k].r, b.r[(size_t)i * d + sim[k].feature], 1e-9);
            cr_assert_float_eq(sim[k].r, sorted[k], 1e-9, "feature %d rank %d", i, k);
            cr_assert_eq(sim[k].n_both, b.both[(size_t)i * d + sim[k].feature]);
        }
    }
    brute_coact_free(&b);
    query_coact_clear(&c);
}

Test(query, similar_features_match_brute_force) {
    store *s = open_read();
    check_similar(s, run_id, &fx);
    store_close(s);
}

/* Galaxies with 128 or more active features go through the dense (BLAS) path; some of
 * these have fewer (zeros are not stored), so both paths add into one result. */
Test(query, similar_features_of_a_dense_run_match_brute_force) {
    fixture_run dense;
    fixture_make(&dense, 60, 160, 150, 1, 155, 5000000, 12);
    snprintf(dense.in.run.prefix, sizeof dense.in.run.prefix, "D");
    store *s = NULL;
    cr_assert_eq(store_open(&s, db_path, STORE_WRITE), SF_OK, "%s", sf_last_error());
    int64_t rid = 0;
    cr_assert_eq(store_add_run(s, &dense.in, &rid), SF_OK, "%s", sf_last_error());
    int below = 0, above = 0;
    for (int g = 0; g < dense.n; g++) {
        int m = 0;
        for (int j = 0; j < dense.k; j++) m += dense.topk_val[g * dense.k + j] > 0;
        if (m < 128) below++;
        else above++;
    }
    cr_assert(below > 0 && above > 0, "both paths used (%d sparse, %d dense rows)", below, above);
    check_similar(s, rid, &dense);
    store_close(s);
    fixture_free(&dense);
}

Test(query, similar_features_through_the_command) {
    store *s = open_read();
    query_coact c;
    cr_assert_eq(query_coact_load(s, run_id, &c), SF_OK);
    query_similar sim[7];
    int n = query_similar_features(&c, 3, 7, sim);
    cr_assert_eq(n, 7);
    store_close(s);
    char args[512];
    int st = 0;
    snprintf(args, sizeof args, "features --similar 'SL 3' -n 7 --json %s", db_path);
    char *out = run_cli(args, &st);
    cr_assert_eq(st, 0, "%s", out);
    cJSON *root = cJSON_Parse(out);
    cr_assert(cJSON_IsArray(root), "%s", out);
    cr_assert_eq(cJSON_GetArraySize(root), 7);
    for (int i = 0; i < n; i++) {
        cJSON *row = cJSON_GetArrayItem(root, i);
        char name[16];
        snprintf(name, sizeof name, "SL %d", sim[i].feature);
        cr_assert_str_eq(cJSON_GetObjectItem(row, "feature")->valuestring, name);
        cr_assert_float_eq(cJSON_GetObjectItem(row, "r")->valuedouble, sim[i].r, 1e-12);
        cr_assert_eq(cJSON_GetObjectItem(row, "n_both")->valueint, sim[i].n_both);
        int active = 0;
        for (int g = 0; g < fx.n; g++) active += fixture_act(&fx, g, sim[i].feature) > 0;
        cr_assert_eq(cJSON_GetObjectItem(row, "n_active")->valueint, active);
    }
    cJSON_Delete(root);
    free(out);
    /* the default is 5; the run may come first, text output */
    snprintf(args, sizeof args, "features --similar 3 %s SL", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0, "%s", out);
    char want[64];
    snprintf(want, sizeof want, "SL %d", sim[4].feature);
    cr_assert(strstr(out, want), "%s", out);
    snprintf(want, sizeof want, "SL %d ", sim[5].feature);
    cr_assert_null(strstr(out, want), "only 5:\n%s", out);
    free(out);
    /* a dead feature, a feature out of range, a run that is not there */
    snprintf(args, sizeof args, "features --similar 40 %s", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0);
    cr_assert(strstr(out, "no feature correlates"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "features --similar 48 %s", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 1);
    free(out);
    snprintf(args, sizeof args, "features --similar 'Z 3' %s", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 1);
    free(out);
    snprintf(args, sizeof args, "features --similar 3 -n 0 %s", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 2);
    free(out);
    query_coact_clear(&c);
}

/* ---- marks through the command ----------------------------------------------------- */

Test(query, marks_command_adds_removes_and_lists) {
    char args[1024];
    int st = 0;
    snprintf(args, sizeof args, "marks %s", db_path);
    char *out = run_cli(args, &st);
    cr_assert_eq(st, 0);
    cr_assert(strstr(out, "no marks"), "%s", out);
    free(out);

    snprintf(args, sizeof args, "label %s SL 5 'ring galaxy'", db_path);
    free(run_cli(args, &st));
    snprintf(args, sizeof args,
             "marks --add 'SL 5' --add 12 --add-galaxy %s --note 'look again' %s", fx.objid[7],
             db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, "SL 5: marked"), "%s", out);
    cr_assert(strstr(out, "SL 12: marked"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "marks --add 12 %s", db_path);
    out = run_cli(args, &st);
    cr_assert(strstr(out, "SL 12: already marked"), "%s", out);
    free(out);

    snprintf(args, sizeof args, "marks --json %s", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0, "%s", out);
    cJSON *root = cJSON_Parse(out);
    cr_assert(cJSON_IsArray(root), "%s", out);
    cr_assert_eq(cJSON_GetArraySize(root), 3);
    cJSON *m0 = cJSON_GetArrayItem(root, 0), *m1 = cJSON_GetArrayItem(root, 1),
          *m2 = cJSON_GetArrayItem(root, 2);
    cr_assert_str_eq(cJSON_GetObjectItem(m0, "run")->valuestring, "SL");
    cr_assert_str_eq(cJSON_GetObjectItem(m0, "kind")->valuestring, "feature");
    cr_assert_str_eq(cJSON_GetObjectItem(m0, "feature")->valuestring, "SL 5");
    cr_assert_str_eq(cJSON_GetObjectItem(m0, "label")->valuestring, "ring galaxy");
    cr_assert_str_eq(cJSON_GetObjectItem(m0, "note")->valuestring, "look again");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(m0, "objid")));
    cr_assert_str_eq(cJSON_GetObjectItem(m1, "feature")->valuestring, "SL 12");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(m1, "label")));
    cr_assert_str_eq(cJSON_GetObjectItem(m2, "kind")->valuestring, "galaxy");
    cr_assert_str_eq(cJSON_GetObjectItem(m2, "objid")->valuestring, fx.objid[7]);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(m2, "feature")));
    cJSON_Delete(root);
    free(out);

    /* the command agrees with the store */
    store *s = open_read();
    store_mark *m = NULL;
    int n = 0;
    cr_assert_eq(store_marks(s, run_id, &m, &n), SF_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(m[0].feature, 5);
    cr_assert_eq(m[1].feature, 12);
    cr_assert_str_eq(m[2].objid, fx.objid[7]);
    free(m);
    store_close(s);

    snprintf(args, sizeof args, "marks --remove SL12 --remove-galaxy %s --csv %s", fx.objid[7],
             db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, "run,kind,feature,objid,label,note,created\r\nSL,feature,SL 5,,ring "
                          "galaxy,look again,"),
              "%s", out);
    cr_assert_null(strstr(out, "SL 12"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "marks --remove 12 %s", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0);
    cr_assert(strstr(out, "SL 12: was not marked"), "%s", out);
    free(out);

    /* errors: exit 1 with nothing changed, usage errors 2 */
    const char *bad[] = {"--add 48", "--add 'Z 3'", "--add-galaxy no-such-galaxy", "--run Z",
                         "--add x7y"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(args, sizeof args, "marks %s %s", bad[i], db_path);
        out = run_cli(args, &st);
        cr_assert_eq(st, 1, "marks %s: exit %d", bad[i], st);
        free(out);
    }
    snprintf(args, sizeof args, "marks --note x %s", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 2);
    free(out);
    out = run_cli("marks", &st);
    cr_assert_eq(st, 2);
    free(out);
    s = open_read();
    cr_assert_eq(store_marks(s, run_id, &m, &n), SF_OK);
    cr_assert_eq(n, 1);
    free(m);
    store_close(s);
}

/* A file of schema version 1: listed as it is, migrated by the first change. */
Test(query, marks_command_on_a_version_1_file) {
    char v1[160], args[512];
    snprintf(v1, sizeof v1, "%s/v1.db", dir);
    cr_assert_eq(fixture_make_v1(v1, db_path), SF_OK, "%s", sf_last_error());
    int st = 0;
    snprintf(args, sizeof args, "marks %s", v1);
    char *out = run_cli(args, &st);
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, "no marks"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "features --similar 3 %s", v1);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0, "similar features of an old file: %s", out);
    free(out);
    store *s = NULL;
    cr_assert_eq(store_open(&s, v1, STORE_READ), SF_OK);
    cr_assert_eq(store_schema_version(s), 1, "listing leaves it at version 1");
    store_close(s);
    snprintf(args, sizeof args, "marks --add 3 %s", v1);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, "SL 3: marked"), "%s", out);
    free(out);
    cr_assert_eq(store_open(&s, v1, STORE_READ), SF_OK);
    cr_assert_eq(store_schema_version(s), STORE_SCHEMA_VERSION);
    store_mark *m = NULL;
    int n = 0;
    cr_assert_eq(store_marks(s, run_id, &m, &n), SF_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(m[0].feature, 3);
    free(m);
    store_close(s);
}

/* ---- terminal escapes: text that came from users never reaches the terminal raw ---- */

/* Runs the binary with args under sh; returns stdout and stderr together (owned). */
static char *run_cli_all(const char *args, int *status) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", binary(), args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 4096, len = 0, got;
    char *out = malloc(cap);
    while ((got = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 2) out = realloc(out, cap *= 2);
    }
    out[len] = 0;
    int rc = pclose(p);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return out;
}

static void assert_no_controls(const char *out, const char *what) {
    for (const unsigned char *p = (const unsigned char *)out; *p; p++)
        cr_assert(*p >= 0x20 || *p == '\n' || *p == '\r',
                  "%s printed the control byte 0x%02x raw:\n%s", what, *p, out);
}

Test(query, labels_and_names_with_escape_sequences_are_shown_not_sent) {
    /* a label that sets the terminal's title and clears the screen */
    const char *evil = "\"$(printf '\\033]0;PWNED\\007\\033[2J')\"";
    char args[1024];
    int st = 0;
    snprintf(args, sizeof args, "label --note %s %s SL 3 %s", evil, db_path, evil);
    char *out = run_cli_all(args, &st);
    cr_assert_eq(st, 0, "%s", out);
    assert_no_controls(out, "label");
    cr_assert(strstr(out, "\\x1b]0;PWNED\\x07\\x1b[2J"), "%s", out);
    free(out);

    const char *commands[] = {"features %s", "features --sort label %s SL",
                              "marks %s",    "equation %s",
                              "runs %s",     "%s" /* the explorer, not on a terminal */};
    snprintf(args, sizeof args, "marks --add 3 %s", db_path);
    out = run_cli_all(args, &st);
    cr_assert_eq(st, 0, "%s", out);
    assert_no_controls(out, "marks --add");
    free(out);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, commands[i], db_path);
        out = run_cli_all(cmd, &st);
        cr_assert_eq(st, 0, "%s: %s", cmd, out);
        assert_no_controls(out, cmd);
        free(out);
    }
    snprintf(args, sizeof args, "features --sort label %s", db_path);
    out = run_cli_all(args, &st);
    cr_assert(strstr(out, "\\x1b]0;PWNED\\x07\\x1b[2J"), "shown escaped:\n%s", out);
    free(out);

    /* JSON keeps the label as it was stored (escaped the JSON way) */
    snprintf(args, sizeof args, "features --json --sort label %s", db_path);
    out = run_cli(args, &st);
    cJSON *root = cJSON_Parse(out);
    cr_assert(cJSON_IsArray(root), "%s", out);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(root, 0), "label")->valuestring,
                     "\x1b]0;PWNED\a\x1b[2J");
    cJSON_Delete(root);
    free(out);

    /* an objID with a newline in an error message: one line, escaped */
    snprintf(args, sizeof args, "galaxy %s \"$(printf '42\\n\\033[2Jsfnet-explore: all fine')\"",
             db_path);
    out = run_cli_all(args, &st);
    cr_assert_eq(st, 1, "%s", out);
    assert_no_controls(out, "galaxy");
    char *nl = strchr(out, '\n');
    cr_assert(nl && nl[1] == 0, "one line:\n%s", out);
    cr_assert(strstr(out, "42\\n\\x1b[2Jsfnet-explore: all fine"), "%s", out);
    free(out);
}

/* ---- --train refuses before any work, and leaves nothing behind --------------------- */

static int file_exists(const char *p) { return access(p, F_OK) == 0; }

Test(query, train_checks_the_checkpoint_the_database_and_the_name_before_any_work) {
    char args[1024], path[200], ckpt[220], cat[200];
    int st = 0;
    /* a catalogue whose images are not there: any decoding would say so first */
    snprintf(cat, sizeof cat, "%s/galaxies.csv", dir);
    FILE *f = fopen(cat, "w");
    fputs("objID,oh_p50\n1,8.5\n2,8.7\n3,8.9\n4,9.0\n5,9.1\n", f);
    fclose(f);

    /* a leftover checkpoint: refused before the images are looked at */
    snprintf(path, sizeof path, "%s/left.db", dir);
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", path);
    f = fopen(ckpt, "w");
    fputs("half a training", f);
    fclose(f);
    snprintf(args, sizeof args, "--train -q --catalog %s --images %s/no-images %s", cat, dir, path);
    char *out = run_cli_all(args, &st);
    cr_assert_eq(st, 1, "%s", out);
    cr_assert(strstr(out, "left.db.ckpt: the checkpoint of an interrupted training"), "%s", out);
    cr_assert_null(strstr(out, "no-images"), "looked at the images first: %s", out);
    cr_assert(!file_exists(path), "%s was left behind", path);
    free(out);
    /* --resume without one: the same */
    snprintf(args, sizeof args,
             "--train -q --resume --catalog %s --images %s/no-images %s/other.db", cat, dir, dir);
    out = run_cli_all(args, &st);
    cr_assert_eq(st, 1, "%s", out);
    cr_assert(strstr(out, "--resume: no checkpoint"), "%s", out);
    cr_assert_null(strstr(out, "no-images"), "%s", out);
    free(out);

    /* a new database for a training that fails on its catalogue is not left behind */
    snprintf(path, sizeof path, "%s/new.db", dir);
    snprintf(args, sizeof args, "--train -q --catalog %s --images %s/no-images %s", cat, dir, path);
    out = run_cli_all(args, &st);
    cr_assert_eq(st, 1, "%s", out);
    free(out);
    char side[240];
    cr_assert(!file_exists(path), "an empty %s was left behind", path);
    snprintf(side, sizeof side, "%s-wal", path);
    cr_assert(!file_exists(side));
    snprintf(side, sizeof side, "%s-shm", path);
    cr_assert(!file_exists(side));
    /* an existing one keeps its runs */
    snprintf(args, sizeof args, "--train -q --catalog %s --images %s/no-images %s", cat, dir,
             db_path);
    out = run_cli_all(args, &st);
    cr_assert_eq(st, 1, "%s", out);
    free(out);
    cr_assert(file_exists(db_path));

    /* a damaged database: refused at open, before the catalogue is read */
    char damaged[200];
    snprintf(damaged, sizeof damaged, "%s/damaged.db", dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", db_path, damaged);
    cr_assert_eq(system(cmd), 0);
    sqlite3 *raw = NULL;
    cr_assert_eq(sqlite3_open(damaged, &raw), SQLITE_OK);
    cr_assert_eq(
        sqlite3_exec(raw, "PRAGMA foreign_keys = OFF; DROP TABLE thumbnails", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(raw);
    snprintf(args, sizeof args, "--train -q --catalog %s/nothing.csv --images %s %s", dir, dir,
             damaged);
    out = run_cli_all(args, &st);
    cr_assert_eq(st, 1, "%s", out);
    cr_assert(strstr(out, "table thumbnails is missing"), "%s", out);
    cr_assert_null(strstr(out, "nothing.csv"), "read the catalogue first: %s", out);
    free(out);

    /* a run name too long is refused, saying the limit, not cut to 15 characters */
    snprintf(args, sizeof args,
             "--train -q --name Metallicity_run_2026 --catalog %s/nothing.csv "
             "--images %s %s/named.db",
             dir, dir, dir);
    out = run_cli_all(args, &st);
    cr_assert_eq(st, 2, "%s", out);
    cr_assert(strstr(out, "Metallicity_run_2026") && strstr(out, "at most 15"), "%s", out);
    free(out);
    snprintf(args, sizeof args,
             "predict --weights x.safetensors --catalog %s/nothing.csv --images %s "
             "--into %s/named.db --name Metallicity_run_2026",
             dir, dir, dir);
    out = run_cli_all(args, &st);
    cr_assert_eq(st, 2, "%s", out);
    cr_assert(strstr(out, "at most 15"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "%s/named.db", dir);
    cr_assert(!file_exists(args));
    /* predict --into a new database, failing on its weights, leaves none behind either */
    snprintf(args, sizeof args,
             "predict -q --weights %s/none.safetensors --catalog %s --images %s "
             "--into %s/into.db",
             dir, cat, dir, dir);
    out = run_cli_all(args, &st);
    cr_assert_eq(st, 1, "%s", out);
    free(out);
    snprintf(args, sizeof args, "%s/into.db", dir);
    cr_assert(!file_exists(args), "%s was left behind", args);
}
