/* The tts-dsl virtual machine: runs lowered programs (autotts_dsl/vm/lower.py)
 * over a replay store, every (seed, question) episode of one cell.
 *
 * One build serves every program: a program is data (code, header, constant
 * registers), so a new controller runs at once, with no per-program compile.
 * Semantics are the reference interpreter's, value for value; whatever this
 * file does not reproduce exactly (a fault, an int leaving int64, a lossy
 * conversion, a NaN sort key, a table miss) ends the episode with RERUN and
 * the reference interpreter replays it, so results and error messages are
 * the reference's by construction.
 *
 * Build flags matter for exactness: no -ffast-math, and -ffp-contract=off so
 * that a*b+c is never fused into one rounding (Python rounds twice).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opcodes.h"

#define EXACT_INT_LIMIT 9007199254740992LL /* 2^53: ints doubles hold exactly */
#define ROUND_LIMIT 4611686018427387904.0  /* 2^62: round() results kept in int64 */
#define NO_ANSWER (-1)

enum { EP_DONE = 0, EP_RERUN = 1 };

typedef struct {
    /* the store (padded arrays, row-major) */
    const int32_t *probes; /* [Q, B, L]: int32 halves what a question keeps in cache */
    const int64_t *n_probes, *tokens, *finals; /* [Q, B] */
    int64_t width, depth; /* B, L */
    const double *beta_table; /* [bt_n, bt_n] */
    int64_t bt_n;
    /* the program */
    const int32_t *code;
    const int64_t *header;
    /* workspace */
    int64_t *I;
    double *F;
    int64_t *R; /* n_irows rows of W */
    double *Q;  /* n_frows rows of W */
    int64_t W;
    int64_t *counts, *mark; /* vocab + 1 */
    int64_t *keys, *perm, *tmp; /* W */
    double *win;
    int64_t *win_base, *win_cap, *win_head, *win_n;
    int64_t n_windows;
} VM;

/* ------------------------------------------------------------------ numerics */

/* Compensated sum, bit-identical to replay.numeric.neumaier_sum. */
static double neumaier(const double *xs, int64_t n) {
    double s = 0.0, c = 0.0;
    for (int64_t j = 0; j < n; j++) {
        double v = xs[j], t = s + v;
        if (fabs(s) >= fabs(v))
            c += (s - t) + v;
        else
            c += (v - t) + s;
        s = t;
    }
    return (c != 0.0 && isfinite(c)) ? s + c : s;
}

static double neumaier_ints(const int64_t *xs, int64_t n) {
    double s = 0.0, c = 0.0;
    for (int64_t j = 0; j < n; j++) {
        double v = (double)xs[j], t = s + v;
        if (fabs(s) >= fabs(v))
            c += (s - t) + v;
        else
            c += (v - t) + s;
        s = t;
    }
    return (c != 0.0 && isfinite(c)) ? s + c : s;
}

/* Python's float floor division and modulo (divisor != 0), as divmod does. */
static void py_divmod(double a, double b, double *floordiv, double *mod) {
    double m = fmod(a, b);
    double div = (a - m) / b;
    if (m != 0.0) {
        if ((b < 0.0) != (m < 0.0)) {
            m += b;
            div -= 1.0;
        }
    } else {
        m = copysign(0.0, b);
    }
    double fd;
    if (div != 0.0) {
        fd = floor(div);
        if (div - fd > 0.5) fd += 1.0;
    } else {
        fd = copysign(0.0, a / b);
    }
    *floordiv = fd;
    *mod = m;
}

/* ------------------------------------------------------------------ tallies */

typedef struct {
    int64_t best, top1, top2, distinct;
} Stats;

/* (winner, top1, top2, distinct) of an answer list; ties to the first occurrence. */
static Stats stats(VM *vm, const int64_t *xs, int64_t n) {
    int64_t *counts = vm->counts, *keys = vm->keys;
    int64_t nd = 0;
    for (int64_t j = 0; j < n; j++) {
        int64_t a = xs[j];
        if (counts[a + 1] == 0) keys[nd++] = a;
        counts[a + 1]++;
    }
    Stats s = {NO_ANSWER, 0, 0, nd};
    for (int64_t k = 0; k < nd; k++) {
        int64_t a = keys[k], c = counts[a + 1];
        counts[a + 1] = 0;
        if (c > s.top1) {
            s.best = a;
            s.top2 = s.top1;
            s.top1 = c;
        } else if (c > s.top2) {
            s.top2 = c;
        }
    }
    return s;
}

/* beta_conf(t1, t2) from the exact table; 0 when t1 <= 0; -1 outside the table. */
static double beta_conf(VM *vm, int64_t t1, int64_t t2) {
    if (t1 <= 0) return 0.0;
    if (t2 < 0 || t1 >= vm->bt_n || t2 >= vm->bt_n) return -1.0;
    return vm->beta_table[t1 * vm->bt_n + t2];
}

/* One vote; returns the new tally size. A new answer starts at 0.0 + w. */
static inline int64_t vote(VM *vm, int64_t *keys, double *ws, int64_t nd, int64_t a, double w) {
    if (a == NO_ANSWER) return nd; /* `none` casts no vote */
    int64_t k = vm->mark[a + 1];
    if (k == 0) {
        keys[nd] = a;
        ws[nd] = 0.0 + w;
        vm->mark[a + 1] = nd + 1;
        return nd + 1;
    }
    ws[k - 1] = ws[k - 1] + w;
    return nd;
}

static void tally_done(VM *vm, const int64_t *keys, int64_t nd) {
    for (int64_t k = 0; k < nd; k++) vm->mark[keys[k] + 1] = 0;
}

typedef struct {
    int64_t best;
    double top1, top2;
} VStats;

static VStats vstats(const int64_t *keys, const double *ws, int64_t nd) {
    VStats s = {NO_ANSWER, 0.0, 0.0};
    for (int64_t k = 0; k < nd; k++) {
        double w = ws[k];
        if (w > s.top1 || s.best == NO_ANSWER) {
            if (s.best != NO_ANSWER) s.top2 = s.top1;
            s.best = keys[k];
            s.top1 = w;
        } else if (w > s.top2) {
            s.top2 = w;
        }
    }
    return s;
}

/* ------------------------------------------------------------------ sorting */

/* Does position x sort before position y (keys in rows of width W)? */
static inline int before(const double *keys, int64_t W, int64_t nk, int64_t desc, int64_t x,
                         int64_t y) {
    for (int64_t k = 0; k < nk; k++) {
        double a = keys[k * W + x], b = keys[k * W + y];
        if (a != b) return ((desc >> k) & 1) ? (a > b) : (a < b);
    }
    return 0;
}

/* One key: a stable sort of positions by the key, compared inline (insertion sort up to
   128: a round re-sorts the list it sorted the round before, nearly in order). */
static void sort_one_key(int64_t *perm, int64_t *tmp, int64_t n, const double *key, int desc) {
    if (n <= 128) {
        for (int64_t p = 1; p < n; p++) {
            int64_t x = perm[p], q = p - 1;
            double kx = key[x];
            while (q >= 0 && (desc ? kx > key[perm[q]] : kx < key[perm[q]])) {
                perm[q + 1] = perm[q];
                q--;
            }
            perm[q + 1] = x;
        }
        return;
    }
    for (int64_t run = 1; run < n; run *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * run) {
            int64_t mid = lo + run < n ? lo + run : n;
            int64_t hi = lo + 2 * run < n ? lo + 2 * run : n;
            int64_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) {
                double ki = key[perm[i]], kj = key[perm[j]];
                tmp[o++] = (desc ? kj > ki : kj < ki) ? perm[j++] : perm[i++];
            }
            while (i < mid) tmp[o++] = perm[i++];
            while (j < hi) tmp[o++] = perm[j++];
        }
        memcpy(perm, tmp, (size_t)n * sizeof(int64_t));
    }
}

/* Stable sort of items[:n] by the key rows; 0 on success, -1 on a NaN key. */
static int sort_rows(VM *vm, int64_t *items, int64_t n, const double *keys, int64_t nk,
                     int64_t desc) {
    int64_t W = vm->W, *perm = vm->perm, *tmp = vm->tmp;
    int sorted = 1; /* already in order (common: keys tie, or follow opening order) */
    if (nk == 1) {  /* the usual `order by` of one key, every round: keep the scan tight */
        const int d = (int)(desc & 1);
        for (int64_t p = 0; p < n; p++) {
            double k = keys[p];
            if (isnan(k)) return -1;
            if (p > 0 && (d ? k > keys[p - 1] : k < keys[p - 1])) sorted = 0;
        }
        if (sorted) return 0;
        for (int64_t p = 0; p < n; p++) perm[p] = p;
        sort_one_key(perm, tmp, n, keys, d);
        for (int64_t p = 0; p < n; p++) tmp[p] = items[perm[p]];
        memcpy(items, tmp, (size_t)n * sizeof(int64_t));
        return 0;
    }
    for (int64_t p = 0; p < n; p++) {
        perm[p] = p;
        for (int64_t k = 0; k < nk; k++)
            if (isnan(keys[k * W + p])) return -1;
        if (sorted && p > 0 && before(keys, W, nk, desc, p, p - 1)) sorted = 0;
    }
    if (sorted) return 0;
    if (n <= 32) {
        for (int64_t p = 1; p < n; p++) {
            int64_t x = perm[p], q = p - 1;
            while (q >= 0 && before(keys, W, nk, desc, x, perm[q])) {
                perm[q + 1] = perm[q];
                q--;
            }
            perm[q + 1] = x;
        }
    } else { /* bottom-up merge sort: stable, O(n log n) */
        for (int64_t run = 1; run < n; run *= 2) {
            for (int64_t lo = 0; lo < n; lo += 2 * run) {
                int64_t mid = lo + run < n ? lo + run : n;
                int64_t hi = lo + 2 * run < n ? lo + 2 * run : n;
                int64_t i = lo, j = mid, o = lo;
                while (i < mid && j < hi)
                    tmp[o++] = before(keys, W, nk, desc, perm[j], perm[i]) ? perm[j++] : perm[i++];
                while (i < mid) tmp[o++] = perm[i++];
                while (j < hi) tmp[o++] = perm[j++];
            }
            memcpy(perm, tmp, (size_t)n * sizeof(int64_t));
        }
    }
    for (int64_t p = 0; p < n; p++) tmp[p] = items[perm[p]];
    memcpy(items, tmp, (size_t)n * sizeof(int64_t));
    return 0;
}

/* ------------------------------------------------------------------ the interpreter */

#define ROW(r) (vm->R + (int64_t)(r) * W)
#define QROW(r) (vm->Q + (int64_t)(r) * W)

#if defined(__GNUC__)
#define LABEL_ADDR(name) [OP_##name] = &&L_##name,
#define OP(name) L_##name:
#define NEXT(n)             \
    do {                    \
        pc += (n);          \
        goto *labels[code[pc]]; \
    } while (0)
#define JUMP(to)            \
    do {                    \
        pc = (to);          \
        goto *labels[code[pc]]; \
    } while (0)
#else
#define OP(name) case OP_##name:
#define NEXT(n)    \
    {              \
        pc += (n); \
        break;     \
    }
#define JUMP(to)   \
    {              \
        pc = (to); \
        break;     \
    }
#endif

#define a1 code[pc + 1]
#define a2 code[pc + 2]
#define a3 code[pc + 3]
#define a4 code[pc + 4]
#define a5 code[pc + 5]
#define a6 code[pc + 6]
#define RERUN_IF(cond) \
    if (cond) return EP_RERUN

/* The read primitive (replay protocol §2) on unfinished branch i. */
#define READ(i)                                                          \
    do {                                                                 \
        int64_t o_ = order[i], k_ = reads[i], c_, ans_;                  \
        reads[i] = k_ + 1;                                               \
        if (k_ < np_row[o_]) {                                           \
            c_ = interval;                                               \
            ans_ = pr_q[o_ * vm->depth + k_];                            \
        } else {                                                         \
            c_ = tk_row[o_] - spent[i];                                  \
            if (c_ < 0) c_ = 0;                                          \
            ans_ = fn_row[o_];                                           \
            fin[i] = 1;                                                  \
            comp[I[R_NCOMP]++] = ans_;                                   \
        }                                                                \
        spent[i] += c_;                                                  \
        I[R_COST] += c_;                                                 \
        batch[i] += c_;                                                  \
        if (batch[i] > bmax) bmax = batch[i];                            \
        latest[i] = ans_;                                                \
    } while (0)

/* Opens branch `i` (fresh bookkeeping and declared fields). */
#define OPEN(i)                                                          \
    do {                                                                 \
        I[R_OPENED] = (i) + 1;                                           \
        I[R_FUEL]--;                                                     \
        reads[i] = 0;                                                    \
        spent[i] = 0;                                                    \
        fin[i] = 0;                                                      \
        pru[i] = 0;                                                      \
        batch[i] = 0;                                                    \
        for (int64_t f_ = 0; f_ < n_ifields; f_++)                       \
            ROW(ifields[2 * f_])[i] = I[ifields[2 * f_ + 1]];            \
        for (int64_t f_ = 0; f_ < n_ffields; f_++)                       \
            QROW(ffields[2 * f_])[i] = F[ffields[2 * f_ + 1]];           \
    } while (0)

/* One episode. out: answer, cost, sequential cost, opened, total reads. */
static int episode(VM *vm, int64_t qi, const int64_t *order, int64_t nb, int64_t interval,
                   int64_t *out) {
    const int32_t *code = vm->code;
    const int64_t *h = vm->header;
    int64_t *I = vm->I;
    double *F = vm->F;
    const int64_t W = vm->W;
    int64_t *reads = ROW(ROW_READS), *spent = ROW(ROW_SPENT), *fin = ROW(ROW_FIN);
    int64_t *pru = ROW(ROW_PRU), *latest = ROW(ROW_LATEST), *batch = ROW(ROW_BATCH);
    int64_t *comp = ROW(ROW_COMP);
    const int64_t *np_row = vm->n_probes + qi * vm->width;
    const int64_t *tk_row = vm->tokens + qi * vm->width;
    const int64_t *fn_row = vm->finals + qi * vm->width;
    const int32_t *pr_q = vm->probes + qi * vm->width * vm->depth;
    const int64_t n_ifields = h[H_N_IFIELDS], n_ffields = h[H_N_FFIELDS];
    const int64_t *ifields = h + N_HEADER + h[H_N_WINDOWS];
    const int64_t *ffields = ifields + 2 * n_ifields;
    int64_t cap = I[h[H_REG_MAXB]] < nb ? I[h[H_REG_MAXB]] : nb;
    const int64_t max_rounds = I[h[H_REG_MAXR]];
    int64_t seq = 0, bmax = 0;
    int64_t pc = 0;

    I[R_OPENED] = 0;
    I[R_COST] = 0;
    I[R_RND] = -1;
    I[R_NCOMP] = 0;
    I[R_FUEL] = I[h[H_REG_FUEL]];
    I[R_NB] = nb;
    I[R_RCOUNT] = 0;

#if defined(__GNUC__)
    static const void *labels[N_OPS] = {FOR_EACH_OP(LABEL_ADDR)};
    goto *labels[code[pc]];
#else
    for (;;) switch (code[pc]) {
#endif

    OP(MOV_I) I[a1] = I[a2]; NEXT(3);
    OP(MOV_F) F[a1] = F[a2]; NEXT(3);
    OP(I2F) F[a1] = (double)I[a2]; NEXT(3);
    OP(I2FX) {
        int64_t v = I[a2];
        RERUN_IF(v > EXACT_INT_LIMIT || v < -EXACT_INT_LIMIT);
        F[a1] = (double)v;
        NEXT(3);
    }
    OP(SETI) I[a1] = a2; NEXT(3);
    OP(INC) I[a1]++; NEXT(2);

    OP(ADD_I) RERUN_IF(__builtin_add_overflow(I[a2], I[a3], &I[a1])); NEXT(4);
    OP(SUB_I) RERUN_IF(__builtin_sub_overflow(I[a2], I[a3], &I[a1])); NEXT(4);
    OP(MUL_I) RERUN_IF(__builtin_mul_overflow(I[a2], I[a3], &I[a1])); NEXT(4);
    OP(FLOORDIV_I) {
        int64_t n = I[a2], d = I[a3];
        RERUN_IF(d == 0 || (n == INT64_MIN && d == -1));
        int64_t q = n / d;
        if ((n % d != 0) && ((n < 0) != (d < 0))) q--;
        I[a1] = q;
        NEXT(4);
    }
    OP(MOD_I) {
        int64_t n = I[a2], d = I[a3];
        RERUN_IF(d == 0);
        int64_t r = d == -1 ? 0 : n % d;
        if (r != 0 && ((r < 0) != (d < 0))) r += d;
        I[a1] = r;
        NEXT(4);
    }
    OP(TDIV_I) {
        int64_t n = I[a2], d = I[a3];
        RERUN_IF(d == 0);
        /* Python's int / int is correctly rounded; doubles are only when exact. */
        RERUN_IF(n > EXACT_INT_LIMIT || n < -EXACT_INT_LIMIT || d > EXACT_INT_LIMIT ||
                 d < -EXACT_INT_LIMIT);
        F[a1] = (double)n / (double)d;
        NEXT(4);
    }
    OP(NEG_I) RERUN_IF(I[a2] == INT64_MIN); I[a1] = -I[a2]; NEXT(3);

    OP(ADD_F) F[a1] = F[a2] + F[a3]; NEXT(4);
    OP(SUB_F) F[a1] = F[a2] - F[a3]; NEXT(4);
    OP(MUL_F) F[a1] = F[a2] * F[a3]; NEXT(4);
    OP(DIV_F) RERUN_IF(F[a3] == 0.0); F[a1] = F[a2] / F[a3]; NEXT(4);
    OP(FLOORDIV_F) {
        RERUN_IF(F[a3] == 0.0);
        double fd, m;
        py_divmod(F[a2], F[a3], &fd, &m);
        F[a1] = fd;
        NEXT(4);
    }
    OP(MOD_F) {
        RERUN_IF(F[a3] == 0.0);
        double fd, m;
        py_divmod(F[a2], F[a3], &fd, &m);
        F[a1] = m;
        NEXT(4);
    }
    OP(NEG_F) F[a1] = -F[a2]; NEXT(3);

    OP(LT_I) I[a1] = I[a2] < I[a3]; NEXT(4);
    OP(LE_I) I[a1] = I[a2] <= I[a3]; NEXT(4);
    OP(EQ_I) I[a1] = I[a2] == I[a3]; NEXT(4);
    OP(NE_I) I[a1] = I[a2] != I[a3]; NEXT(4);
    OP(LT_F) I[a1] = F[a2] < F[a3]; NEXT(4);
    OP(LE_F) I[a1] = F[a2] <= F[a3]; NEXT(4);
    OP(EQ_F) I[a1] = F[a2] == F[a3]; NEXT(4);
    OP(NE_F) I[a1] = F[a2] != F[a3]; NEXT(4);
    OP(NOT) I[a1] = !I[a2]; NEXT(3);

    OP(JMP) JUMP(a1);
    OP(JZ) if (I[a1] == 0) JUMP(a2); NEXT(3);
    OP(JNZ) if (I[a1] != 0) JUMP(a2); NEXT(3);
    OP(JSOME) if (I[a1] != NO_ANSWER) JUMP(a2); NEXT(3);
#define JCMP(name, R, op, when)            \
    OP(name) {                            \
        if ((R[a1] op R[a2]) == (when)) JUMP(a3); \
        NEXT(4);                          \
    }
    JCMP(JT_LT_I, I, <, 1)
    JCMP(JT_LE_I, I, <=, 1)
    JCMP(JT_EQ_I, I, ==, 1)
    JCMP(JT_NE_I, I, !=, 1)
    JCMP(JF_LT_I, I, <, 0)
    JCMP(JF_LE_I, I, <=, 0)
    JCMP(JF_EQ_I, I, ==, 0)
    JCMP(JF_NE_I, I, !=, 0)
    JCMP(JT_LT_F, F, <, 1)
    JCMP(JT_LE_F, F, <=, 1)
    JCMP(JT_EQ_F, F, ==, 1)
    JCMP(JT_NE_F, F, !=, 1)
    JCMP(JF_LT_F, F, <, 0)
    JCMP(JF_LE_F, F, <=, 0)
    JCMP(JF_EQ_F, F, ==, 0)
    JCMP(JF_NE_F, F, !=, 0)
    OP(RERUN) return EP_RERUN;

    OP(ROUND) {
        double x = F[a2];
        RERUN_IF(!(x > -ROUND_LIMIT && x < ROUND_LIMIT));
        I[a1] = (int64_t)rint(x); /* the default rounding mode: ties to even */
        NEXT(3);
    }
    OP(FLOOR) {
        double x = F[a2];
        RERUN_IF(!(x > -ROUND_LIMIT && x < ROUND_LIMIT));
        I[a1] = (int64_t)floor(x);
        NEXT(3);
    }
    OP(CEIL) {
        double x = F[a2];
        RERUN_IF(!(x > -ROUND_LIMIT && x < ROUND_LIMIT));
        I[a1] = (int64_t)ceil(x);
        NEXT(3);
    }
    OP(ABS_I) RERUN_IF(I[a2] == INT64_MIN); I[a1] = I[a2] < 0 ? -I[a2] : I[a2]; NEXT(3);
    OP(ABS_F) F[a1] = fabs(F[a2]); NEXT(3);
    OP(EXP) {
        double x = F[a2], y = exp(x);
        RERUN_IF(isinf(y) && !isinf(x)); /* Python raises OverflowError */
        F[a1] = y;
        NEXT(3);
    }
    OP(LOG) RERUN_IF(!(F[a2] > 0.0)); F[a1] = log(F[a2]); NEXT(3);
    OP(SQRT) RERUN_IF(F[a2] < 0.0); F[a1] = sqrt(F[a2]); NEXT(3);
    OP(SIGMOID) {
        double x = F[a2];
        if (x >= 0.0) {
            F[a1] = 1.0 / (1.0 + exp(-x));
        } else {
            double e = exp(x);
            F[a1] = e / (1.0 + e);
        }
        NEXT(3);
    }
    OP(POW) {
        double x = F[a2], y = F[a3];
        RERUN_IF(x < 0.0 || (x == 0.0 && y < 0.0) || !isfinite(x) || !isfinite(y));
        double r = pow(x, y);
        RERUN_IF(isinf(r));
        F[a1] = r;
        NEXT(4);
    }
    /* Python's min/max keep the first of equal (or unordered) values. */
    OP(MIN_I) I[a1] = I[a3] < I[a2] ? I[a3] : I[a2]; NEXT(4);
    OP(MAX_I) I[a1] = I[a3] > I[a2] ? I[a3] : I[a2]; NEXT(4);
    OP(MIN_F) F[a1] = F[a3] < F[a2] ? F[a3] : F[a2]; NEXT(4);
    OP(MAX_F) F[a1] = F[a3] > F[a2] ? F[a3] : F[a2]; NEXT(4);
    OP(CLAMP_I) {
        int64_t x = I[a2], lo = I[a3], hi = I[a4];
        I[a1] = x < lo ? lo : x > hi ? hi : x;
        NEXT(5);
    }
    OP(CLAMP_F) {
        double x = F[a2], lo = F[a3], hi = F[a4];
        F[a1] = x < lo ? lo : x > hi ? hi : x;
        NEXT(5);
    }

    OP(COLLECT) {
        int64_t *row = ROW(a2), n = 0, opened = I[R_OPENED];
        switch (a1) {
        case SET_OPENED:
            for (int64_t j = 0; j < opened; j++) row[n++] = j;
            break;
        case SET_RUNNING:
            for (int64_t j = 0; j < opened; j++)
                if (!fin[j] && !pru[j]) row[n++] = j;
            break;
        case SET_ALIVE:
            for (int64_t j = 0; j < opened; j++)
                if (!pru[j]) row[n++] = j;
            break;
        case SET_FINISHED:
            for (int64_t j = 0; j < opened; j++)
                if (fin[j] && !pru[j]) row[n++] = j;
            break;
        default: /* SET_PRUNED */
            for (int64_t j = 0; j < opened; j++)
                if (pru[j]) row[n++] = j;
            break;
        }
        I[a3] = n;
        NEXT(4);
    }
    OP(COPY_ROW) {
        int64_t n = I[a3];
        if (n > 0) memmove(ROW(a1), ROW(a2), (size_t)n * sizeof(int64_t));
        NEXT(4);
    }
    OP(LOOP) { /* at the bottom of a loop: advance, and go round while entries remain */
        int64_t k = ++I[a3];
        if (k < I[a2]) {
            I[a4] = ROW(a1)[k];
            JUMP(a5);
        }
        NEXT(6);
    }
    OP(LOOPB) {
        int64_t k = ++I[a3];
        if (k < I[a2]) {
            I[a4] = ROW(a1)[k];
            I[R_FUEL]--;
            JUMP(a5);
        }
        NEXT(6);
    }
    OP(LDR) I[a1] = ROW(a2)[I[a3]]; NEXT(4);
    OP(STR) ROW(a1)[I[a2]] = I[a3]; NEXT(4);
    OP(LDQ) F[a1] = QROW(a2)[I[a3]]; NEXT(4);
    OP(STQ) QROW(a1)[I[a2]] = F[a3]; NEXT(4);
    OP(KEYI) {
        int64_t v = I[a3];
        RERUN_IF(v > EXACT_INT_LIMIT || v < -EXACT_INT_LIMIT); /* keys compare as doubles */
        QROW(a1)[I[a2]] = (double)v;
        NEXT(4);
    }
    OP(KEYR) {
        double *key = QROW(a1);
        const int64_t *sel = ROW(a2), *src = ROW(a4);
        for (int64_t k = 0, n = I[a3]; k < n; k++) {
            int64_t v = src[sel[k]];
            RERUN_IF(v > EXACT_INT_LIMIT || v < -EXACT_INT_LIMIT);
            key[k] = (double)v;
        }
        NEXT(5);
    }
    OP(KEYQ) {
        double *key = QROW(a1);
        const int64_t *sel = ROW(a2);
        const double *src = QROW(a4);
        for (int64_t k = 0, n = I[a3]; k < n; k++) key[k] = src[sel[k]];
        NEXT(5);
    }
    OP(LIMIT) {
        int64_t lim = I[a2];
        if (lim < I[a1]) I[a1] = lim < 0 ? 0 : lim;
        NEXT(3);
    }
    OP(SORT) RERUN_IF(sort_rows(vm, ROW(a1), I[a2], QROW(a3), a4, a5) != 0); NEXT(6);
    OP(FUEL) RERUN_IF(I[a1] > I[R_FUEL]); NEXT(2);
    OP(BURN) I[R_FUEL]--; NEXT(1);

    OP(WINNER) I[a1] = stats(vm, ROW(a2), I[a3]).best; NEXT(4);
    OP(TOP1) I[a1] = stats(vm, ROW(a2), I[a3]).top1; NEXT(4);
    OP(TOP2) I[a1] = stats(vm, ROW(a2), I[a3]).top2; NEXT(4);
    OP(DISTINCT) I[a1] = stats(vm, ROW(a2), I[a3]).distinct; NEXT(4);
    OP(CONF) {
        Stats s = stats(vm, ROW(a2), I[a3]);
        double v = beta_conf(vm, s.top1, s.top2);
        RERUN_IF(v < 0.0);
        F[a1] = v;
        NEXT(4);
    }
    OP(BETA_CONF) {
        double v = beta_conf(vm, I[a2], I[a3]);
        RERUN_IF(v < 0.0);
        F[a1] = v;
        NEXT(4);
    }
    OP(COUNT_OF) {
        const int64_t *xs = ROW(a2);
        int64_t n = I[a3], a = I[a4], c = 0;
        for (int64_t j = 0; j < n; j++) c += xs[j] == a;
        I[a1] = c;
        NEXT(5);
    }
    OP(SHARE) {
        const int64_t *xs = ROW(a2);
        int64_t n = I[a3], a = I[a4], c = 0;
        for (int64_t j = 0; j < n; j++) c += xs[j] == a;
        F[a1] = n == 0 ? 0.0 : (double)c / (double)n;
        NEXT(5);
    }
    OP(RECENT) {
        int64_t sn = I[a4], n = I[a5], start = n <= 0 ? sn : sn - n;
        if (start < 0) start = 0;
        int64_t len = sn - start;
        if (len > 0) memmove(ROW(a1), ROW(a3) + start, (size_t)len * sizeof(int64_t));
        I[a2] = len;
        NEXT(6);
    }
    OP(ANSWERS) {
        int64_t *dst = ROW(a1);
        const int64_t *set = ROW(a3);
        int64_t n = I[a4];
        for (int64_t j = 0; j < n; j++) dst[j] = latest[set[j]];
        I[a2] = n;
        NEXT(5);
    }

    OP(VOTES_SET) {
        int64_t *keys = ROW(a1), nd = 0, n = I[a5];
        double *ws = QROW(a2);
        const int64_t *set = ROW(a4);
        for (int64_t j = 0; j < n; j++) nd = vote(vm, keys, ws, nd, latest[set[j]], 1.0);
        tally_done(vm, keys, nd);
        I[a3] = nd;
        NEXT(6);
    }
    OP(VOTES_LIST) {
        int64_t *keys = ROW(a1), nd = 0, n = I[a5];
        double *ws = QROW(a2);
        const int64_t *xs = ROW(a4);
        for (int64_t j = 0; j < n; j++) nd = vote(vm, keys, ws, nd, xs[j], 1.0);
        tally_done(vm, keys, nd);
        I[a3] = nd;
        NEXT(6);
    }
    OP(VOTES_PAIRS) {
        int64_t *keys = ROW(a1), nd = 0, n = I[a6];
        double *ws = QROW(a2);
        const int64_t *ans = ROW(a4);
        const double *wt = QROW(a5);
        for (int64_t j = 0; j < n; j++) nd = vote(vm, keys, ws, nd, ans[j], wt[j]);
        tally_done(vm, keys, nd);
        I[a3] = nd;
        NEXT(7);
    }
    OP(VWINNER) I[a1] = vstats(ROW(a2), QROW(a3), I[a4]).best; NEXT(5);
    OP(VTOP1) F[a1] = vstats(ROW(a2), QROW(a3), I[a4]).top1; NEXT(5);
    OP(VTOP2) F[a1] = vstats(ROW(a2), QROW(a3), I[a4]).top2; NEXT(5);
    OP(VTOTAL) F[a1] = neumaier(QROW(a3), I[a4]); NEXT(5);
    OP(WEIGHT_OF) {
        const int64_t *keys = ROW(a2);
        int64_t nd = I[a4], a = I[a5];
        double w = 0.0;
        for (int64_t k = 0; k < nd; k++)
            if (keys[k] == a) {
                w = QROW(a3)[k];
                break;
            }
        F[a1] = w;
        NEXT(6);
    }

    OP(SUM_I) {
        const int64_t *xs = ROW(a2);
        int64_t n = I[a3], s = 0;
        for (int64_t j = 0; j < n; j++) RERUN_IF(__builtin_add_overflow(s, xs[j], &s));
        I[a1] = s;
        NEXT(4);
    }
    OP(SUM_F) F[a1] = neumaier(QROW(a2), I[a3]); NEXT(4);
    OP(MEAN_I) {
        int64_t n = I[a3];
        F[a1] = n == 0 ? 0.0 : neumaier_ints(ROW(a2), n) / (double)n;
        NEXT(4);
    }
    OP(MEAN_F) {
        int64_t n = I[a3];
        F[a1] = n == 0 ? 0.0 : neumaier(QROW(a2), n) / (double)n;
        NEXT(4);
    }
    OP(GMIN_I) {
        const int64_t *xs = ROW(a2);
        int64_t n = I[a3], m = n > 0 ? xs[0] : 0;
        for (int64_t j = 1; j < n; j++)
            if (xs[j] < m) m = xs[j];
        I[a1] = m;
        NEXT(4);
    }
    OP(GMAX_I) {
        const int64_t *xs = ROW(a2);
        int64_t n = I[a3], m = n > 0 ? xs[0] : 0;
        for (int64_t j = 1; j < n; j++)
            if (xs[j] > m) m = xs[j];
        I[a1] = m;
        NEXT(4);
    }
    OP(GMIN_F) {
        const double *xs = QROW(a2);
        int64_t n = I[a3];
        double m = n > 0 ? xs[0] : 0.0;
        for (int64_t j = 1; j < n; j++)
            if (xs[j] < m) m = xs[j];
        F[a1] = m;
        NEXT(4);
    }
    OP(GMAX_F) {
        const double *xs = QROW(a2);
        int64_t n = I[a3];
        double m = n > 0 ? xs[0] : 0.0;
        for (int64_t j = 1; j < n; j++)
            if (xs[j] > m) m = xs[j];
        F[a1] = m;
        NEXT(4);
    }
    OP(ANY) {
        const int64_t *xs = ROW(a2);
        int64_t n = I[a3], r = 0;
        for (int64_t j = 0; j < n && !r; j++) r = xs[j] != 0;
        I[a1] = r;
        NEXT(4);
    }
    OP(ALL) {
        const int64_t *xs = ROW(a2);
        int64_t n = I[a3], r = 1;
        for (int64_t j = 0; j < n && r; j++) r = xs[j] != 0;
        I[a1] = r;
        NEXT(4);
    }

    /* Windows are ring buffers: the oldest entry at `head`, `n` entries. */
    OP(WCLEAR) vm->win_head[a1] = 0; vm->win_n[a1] = 0; NEXT(2);
    OP(PUSH) {
        int64_t w = a1, c = vm->win_cap[w];
        double *buf = vm->win + vm->win_base[w];
        if (c > 0) {
            if (vm->win_n[w] < c) {
                buf[(vm->win_head[w] + vm->win_n[w]) % c] = F[a2];
                vm->win_n[w]++;
            } else {
                buf[vm->win_head[w]] = F[a2];
                vm->win_head[w] = (vm->win_head[w] + 1) % c;
            }
        }
        NEXT(3);
    }
    OP(SET_LAST) {
        int64_t w = a1, n = vm->win_n[w];
        if (n > 0) vm->win[vm->win_base[w] + (vm->win_head[w] + n - 1) % vm->win_cap[w]] = F[a2];
        NEXT(3);
    }
    OP(WFIRST) {
        int64_t w = a2;
        F[a1] = vm->win_n[w] > 0 ? vm->win[vm->win_base[w] + vm->win_head[w]] : 0.0;
        NEXT(3);
    }
    OP(WLAST) {
        int64_t w = a2, n = vm->win_n[w];
        F[a1] = n > 0 ? vm->win[vm->win_base[w] + (vm->win_head[w] + n - 1) % vm->win_cap[w]]
                      : 0.0;
        NEXT(3);
    }
    OP(WDELTA) {
        int64_t w = a2, n = vm->win_n[w];
        if (n >= 2) {
            const double *buf = vm->win + vm->win_base[w];
            int64_t c = vm->win_cap[w], hd = vm->win_head[w];
            F[a1] = buf[(hd + n - 1) % c] - buf[hd];
        } else {
            F[a1] = 0.0;
        }
        NEXT(3);
    }
    OP(WLEN) I[a1] = vm->win_n[a2]; NEXT(3);
    OP(WMEAN) {
        int64_t w = a2, n = vm->win_n[w];
        if (n == 0) {
            F[a1] = 0.0;
        } else {
            const double *buf = vm->win + vm->win_base[w];
            int64_t c = vm->win_cap[w], hd = vm->win_head[w];
            double s = 0.0, comp_ = 0.0;
            for (int64_t j = 0; j < n; j++) { /* oldest to newest, as the list */
                double v = buf[(hd + j) % c], t = s + v;
                if (fabs(s) >= fabs(v))
                    comp_ += (s - t) + v;
                else
                    comp_ += (v - t) + s;
                s = t;
            }
            s = (comp_ != 0.0 && isfinite(comp_)) ? s + comp_ : s;
            F[a1] = s / (double)n;
        }
        NEXT(3);
    }

    OP(SPAWN) {
        int64_t n = I[a1];
        RERUN_IF(n > I[R_FUEL]);
        for (int64_t k = 0; k < n; k++) {
            int64_t i = I[R_OPENED];
            if (i >= cap) break;
            OPEN(i);
            READ(i);
        }
        NEXT(2);
    }
    OP(READ_FULL) {
        int64_t n = I[a1];
        RERUN_IF(n > I[R_FUEL]);
        for (int64_t k = 0; k < n; k++) {
            int64_t i = I[R_OPENED];
            if (i >= cap) break;
            OPEN(i);
            int64_t o = order[i], c = tk_row[o], ans = fn_row[o];
            reads[i] = 1;
            spent[i] = c;
            fin[i] = 1;
            I[R_COST] += c;
            batch[i] = c;
            if (c > bmax) bmax = c;
            latest[i] = ans;
            comp[I[R_NCOMP]++] = ans;
        }
        NEXT(2);
    }
    OP(STEP) {
        int64_t i = I[a1], n = I[a2];
        RERUN_IF(pru[i]); /* the reference reports stepping a pruned branch */
        RERUN_IF(n > I[R_FUEL]);
        for (int64_t k = 0; k < n; k++) {
            if (fin[i]) break;
            I[R_FUEL]--;
            READ(i);
        }
        NEXT(3);
    }
    OP(PRUNE) pru[I[a1]] = 1; NEXT(2);
    OP(ANSWER) {
        int64_t opened = I[R_OPENED], total = 0;
        for (int64_t j = 0; j < opened; j++) total += reads[j];
        out[0] = I[a1];
        out[1] = I[R_COST];
        out[2] = seq + bmax; /* answering closes the batch */
        out[3] = opened;
        out[4] = total;
        return EP_DONE;
    }
    OP(END_BATCH) {
        seq += bmax;
        bmax = 0;
        int64_t opened = I[R_OPENED];
        for (int64_t j = 0; j < opened; j++) batch[j] = 0;
        NEXT(1);
    }
    OP(ROUND_NEXT) {
        if (I[R_RCOUNT] >= max_rounds) JUMP(a1);
        I[R_RND] = I[R_RCOUNT]++;
        RERUN_IF(I[R_FUEL] <= 0); /* a round costs one unit as it starts */
        I[R_FUEL]--;
        NEXT(2);
    }

#if !defined(__GNUC__)
    default:
        return EP_RERUN;
    }
#endif
    return EP_RERUN; /* not reached: every instruction jumps, continues or returns */
}

/* ------------------------------------------------------------------ the Python entry */

typedef struct {
    Py_buffer b;
    int held;
} Buf;

static int get_buf(PyObject *obj, Buf *out, int writable, Py_ssize_t want, const char *what) {
    if (PyObject_GetBuffer(obj, &out->b, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    out->held = 1;
    if (out->b.len < want) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes, need %zd", what, out->b.len, want);
        return -1;
    }
    return 0;
}

static void release(Buf *bufs, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (bufs[k].held) PyBuffer_Release(&bufs[k].b);
}

#define N_BLOCKS 11

/* Every operand in range: registers, rows and windows exist, jumps land on
 * instructions, the code ends in a jump or a return. Run once per call, so
 * no code, however it was made, can make the VM touch memory it does not own. */
static int validate(const int32_t *code, int64_t n_code, const int64_t *h) {
    unsigned char *starts = calloc((size_t)n_code + 1, 1);
    if (!starts) {
        PyErr_NoMemory();
        return -1;
    }
    int ok = 1;
    int64_t pc = 0, last = -1;
    while (ok && pc < n_code) {
        int32_t op = code[pc];
        if (op < 0 || op >= N_OPS) {
            ok = 0;
            break;
        }
        const char *kinds = OP_OPERANDS[op];
        int64_t len = 1 + (int64_t)strlen(kinds);
        if (pc + len > n_code) {
            ok = 0;
            break;
        }
        starts[pc] = 1;
        last = op;
        pc += len;
    }
    for (pc = 0; ok && pc < n_code;) {
        const char *kinds = OP_OPERANDS[code[pc]];
        for (int64_t k = 0; kinds[k]; k++) {
            int64_t v = code[pc + 1 + k];
            switch (kinds[k]) {
            case 'i': ok &= v >= 0 && v < h[H_N_IREGS]; break;
            case 'f': ok &= v >= 0 && v < h[H_N_FREGS]; break;
            case 'r': ok &= v >= 0 && v < h[H_N_IROWS]; break;
            case 'q': ok &= v >= 0 && v < h[H_N_FROWS]; break;
            case 'w': ok &= v >= 0 && v < h[H_N_WINDOWS]; break;
            case 'L': ok &= v >= 0 && v < n_code && starts[v]; break;
            default: break; /* immediates */
            }
        }
        pc += 1 + (int64_t)strlen(kinds);
    }
    /* SORT reads k2 key rows from row k1. */
    for (pc = 0; ok && pc < n_code; pc += 1 + (int64_t)strlen(OP_OPERANDS[code[pc]]))
        if (code[pc] == OP_SORT)
            ok &= code[pc + 3] >= 0 && code[pc + 4] >= 0 && code[pc + 3] + code[pc + 4] <= h[H_N_FROWS];
    ok &= last == OP_JMP || last == OP_RERUN || last == OP_ANSWER;
    ok &= h[H_REG_MAXB] < h[H_N_IREGS] && h[H_REG_MAXR] < h[H_N_IREGS] && h[H_REG_FUEL] < h[H_N_IREGS];
    ok &= h[H_N_IREGS] >= N_SPECIAL_REGS && h[H_N_IROWS] >= N_SPECIAL_ROWS;
    free(starts);
    if (!ok) PyErr_SetString(PyExc_ValueError, "malformed VM code");
    return ok ? 0 : -1;
}

/* The workspace of one program over rows of width W: registers (constants
 * copied in), rows, tally scratch and windows. 0, or -1 with an exception set. */
static int vm_setup(VM *vm, const Buf *hdr, const Buf *ci, const Buf *cf, int64_t width,
                    int64_t vocab, void **blocks) {
    const int64_t *h = hdr->b.buf;
    const int64_t n_windows = h[H_N_WINDOWS];
    if (hdr->b.len < (Py_ssize_t)((N_HEADER + n_windows + 2 * (h[H_N_IFIELDS] + h[H_N_FFIELDS])) * 8) ||
        ci->b.len > (h[H_N_IREGS] - N_SPECIAL_REGS) * 8 || cf->b.len > h[H_N_FREGS] * 8 ||
        vocab < 0) {
        PyErr_SetString(PyExc_ValueError, "inconsistent program header");
        return -1;
    }
    vm->header = h;
    vm->W = width > 0 ? width : 1;
    const int64_t W = vm->W;
    blocks[0] = vm->I = calloc((size_t)h[H_N_IREGS] + 1, sizeof(int64_t));
    blocks[1] = vm->F = calloc((size_t)h[H_N_FREGS] + 1, sizeof(double));
    blocks[2] = vm->R = calloc((size_t)(h[H_N_IROWS] * W), sizeof(int64_t));
    blocks[3] = vm->Q = calloc((size_t)(h[H_N_FROWS] * W + 1), sizeof(double));
    blocks[4] = vm->counts = calloc((size_t)vocab + 1, sizeof(int64_t));
    blocks[5] = vm->mark = calloc((size_t)vocab + 1, sizeof(int64_t));
    blocks[6] = vm->keys = calloc((size_t)W, sizeof(int64_t));
    blocks[7] = vm->perm = calloc((size_t)W, sizeof(int64_t));
    blocks[8] = vm->tmp = calloc((size_t)W, sizeof(int64_t));
    blocks[9] = vm->win_base = calloc((size_t)(4 * n_windows + 1), sizeof(int64_t));
    for (int k = 0; k < 10; k++)
        if (!blocks[k]) {
            PyErr_NoMemory();
            return -1;
        }
    memcpy(vm->I + N_SPECIAL_REGS, ci->b.buf, (size_t)ci->b.len);
    memcpy(vm->F, cf->b.buf, (size_t)cf->b.len);
    vm->win_cap = vm->win_base + n_windows;
    vm->win_head = vm->win_cap + n_windows;
    vm->win_n = vm->win_head + n_windows;
    vm->n_windows = n_windows;
    const int64_t *fields = h + N_HEADER + n_windows;
    for (int64_t w = 0; w < n_windows; w++)
        if (h[N_HEADER + w] < N_SPECIAL_REGS || h[N_HEADER + w] >= h[H_N_IREGS]) goto bad;
    for (int64_t f = 0; f < h[H_N_IFIELDS]; f++)
        if (fields[2 * f] < N_SPECIAL_ROWS || fields[2 * f] >= h[H_N_IROWS] ||
            fields[2 * f + 1] < 0 || fields[2 * f + 1] >= h[H_N_IREGS])
            goto bad;
    fields += 2 * h[H_N_IFIELDS];
    for (int64_t f = 0; f < h[H_N_FFIELDS]; f++)
        if (fields[2 * f] < 0 || fields[2 * f] >= h[H_N_FROWS] || fields[2 * f + 1] < 0 ||
            fields[2 * f + 1] >= h[H_N_FREGS])
            goto bad;
    int64_t total = 0;
    for (int64_t w = 0; w < n_windows; w++) {
        int64_t c = vm->I[h[N_HEADER + w]];
        vm->win_cap[w] = c > 0 ? c : 0;
        vm->win_base[w] = total;
        total += vm->win_cap[w];
    }
    blocks[10] = vm->win = calloc((size_t)total + 1, sizeof(double));
    if (!vm->win) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
bad:
    PyErr_SetString(PyExc_ValueError, "malformed VM program header");
    return -1;
}

static void free_blocks(void **blocks) {
    for (int k = 0; k < N_BLOCKS; k++) free(blocks[k]);
}

static PyObject *run_cell(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *o[14];
    long long n_code, n_q, width, depth, n_seeds, n_order_sets, order_width, bt_n, vocab;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOOOLLLLLLLLL", &o[0], &o[1], &o[2], &o[3], &o[4],
                          &o[5], &o[6], &o[7], &o[8], &o[9], &o[10], &o[11], &o[12], &o[13],
                          &n_code, &n_q, &width, &depth, &n_seeds, &n_order_sets, &order_width,
                          &bt_n, &vocab))
        return NULL;
    enum { CODE, HDR, CI, CF, PR, NP, TK, FN, NB, IV, ORD, QU, BT, OUT, N_BUFS };
    Buf b[N_BUFS];
    memset(b, 0, sizeof b);
    void *blocks[N_BLOCKS] = {0};
    VM vm;
    memset(&vm, 0, sizeof vm);
    PyObject *result = NULL;
    const int64_t n_ep = n_q * n_seeds;
    if (get_buf(o[CODE], &b[CODE], 0, n_code * 4, "code") < 0 ||
        get_buf(o[HDR], &b[HDR], 0, N_HEADER * 8, "header") < 0 ||
        get_buf(o[CI], &b[CI], 0, 0, "CI") < 0 || get_buf(o[CF], &b[CF], 0, 0, "CF") < 0 ||
        get_buf(o[PR], &b[PR], 0, n_q * width * depth * 4, "probes") < 0 ||
        get_buf(o[NP], &b[NP], 0, n_q * width * 8, "n_probes") < 0 ||
        get_buf(o[TK], &b[TK], 0, n_q * width * 8, "tokens") < 0 ||
        get_buf(o[FN], &b[FN], 0, n_q * width * 8, "finals") < 0 ||
        get_buf(o[NB], &b[NB], 0, n_q * 8, "n_branches") < 0 ||
        get_buf(o[IV], &b[IV], 0, n_q * 8, "interval") < 0 ||
        get_buf(o[ORD], &b[ORD], 0, n_seeds * n_order_sets * order_width * 8, "orders") < 0 ||
        get_buf(o[QU], &b[QU], 0, n_q * 8, "order rows") < 0 ||
        get_buf(o[BT], &b[BT], 0, bt_n * bt_n * 8, "beta table") < 0 ||
        get_buf(o[OUT], &b[OUT], 1, n_ep * 6 * 8, "out") < 0)
        goto done;
    if (order_width < width) {
        PyErr_SetString(PyExc_ValueError, "orders narrower than the store");
        goto done;
    }
    if (vm_setup(&vm, &b[HDR], &b[CI], &b[CF], width, vocab, blocks) < 0 ||
        validate(b[CODE].b.buf, n_code, b[HDR].b.buf) < 0)
        goto done;
    vm.code = b[CODE].b.buf;
    vm.probes = b[PR].b.buf;
    vm.n_probes = b[NP].b.buf;
    vm.tokens = b[TK].b.buf;
    vm.finals = b[FN].b.buf;
    vm.width = width;
    vm.depth = depth;
    vm.beta_table = b[BT].b.buf;
    vm.bt_n = bt_n;
    {
        const int64_t *orders = b[ORD].b.buf, *rows = b[QU].b.buf;
        const int64_t *nbs = b[NB].b.buf, *ivs = b[IV].b.buf;
        int64_t *out = b[OUT].b.buf;
        Py_BEGIN_ALLOW_THREADS;
        /* Question by question: a question's probes stay in cache for all its
         * seeds (episodes are independent; `out` keeps the seed-major order). */
        for (int64_t q = 0; q < n_q; q++) {
            for (int64_t si = 0; si < n_seeds; si++) {
                const int64_t *order = orders + (si * n_order_sets + rows[q]) * order_width;
                int64_t *row = out + (si * n_q + q) * 6;
                row[0] = episode(&vm, q, order, nbs[q], ivs[q], row + 1);
            }
        }
        Py_END_ALLOW_THREADS;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    free_blocks(blocks);
    release(b, N_BUFS);
    return result;
}

/* For the kernel tests: run code on a store with no branches, given the
 * constant registers; returns the status and copies out every register. */
static PyObject *run_snippet(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *o[7];
    long long n_code, width, vocab, bt_n;
    if (!PyArg_ParseTuple(args, "OOOOOOOLLLL", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6],
                          &n_code, &width, &vocab, &bt_n))
        return NULL;
    enum { CODE, HDR, CI, CF, BT, OUT_I, OUT_F, N_BUFS };
    Buf b[N_BUFS];
    memset(b, 0, sizeof b);
    void *blocks[N_BLOCKS] = {0};
    VM vm;
    memset(&vm, 0, sizeof vm);
    PyObject *result = NULL;
    if (get_buf(o[CODE], &b[CODE], 0, n_code * 4, "code") < 0 ||
        get_buf(o[HDR], &b[HDR], 0, N_HEADER * 8, "header") < 0 ||
        get_buf(o[CI], &b[CI], 0, 0, "CI") < 0 || get_buf(o[CF], &b[CF], 0, 0, "CF") < 0 ||
        get_buf(o[BT], &b[BT], 0, bt_n * bt_n * 8, "beta table") < 0)
        goto done;
    const int64_t *h = b[HDR].b.buf;
    if (get_buf(o[OUT_I], &b[OUT_I], 1, h[H_N_IREGS] * 8, "out_i") < 0 ||
        get_buf(o[OUT_F], &b[OUT_F], 1, h[H_N_FREGS] * 8, "out_f") < 0 ||
        vm_setup(&vm, &b[HDR], &b[CI], &b[CF], width, vocab, blocks) < 0 ||
        validate(b[CODE].b.buf, n_code, h) < 0)
        goto done;
    static const int64_t none[1] = {0}, order[1] = {0};
    vm.code = b[CODE].b.buf;
    static const int32_t no_probes[1] = {0};
    vm.probes = no_probes;
    vm.n_probes = vm.tokens = vm.finals = none;
    vm.width = 1;
    vm.depth = 1;
    vm.beta_table = b[BT].b.buf;
    vm.bt_n = bt_n;
    int64_t out[5];
    int status = episode(&vm, 0, order, 0, 1, out);
    memcpy(b[OUT_I].b.buf, vm.I, (size_t)h[H_N_IREGS] * 8);
    memcpy(b[OUT_F].b.buf, vm.F, (size_t)h[H_N_FREGS] * 8);
    result = PyLong_FromLong(status);
done:
    free_blocks(blocks);
    release(b, N_BUFS);
    return result;
}

static PyMethodDef methods[] = {
    {"run_cell", run_cell, METH_VARARGS,
     "run_cell(code, header, ci, cf, probes, n_probes, tokens, finals, n_branches, interval, "
     "orders, order_rows, beta_table, out, n_code, n_q, width, depth, n_seeds, n_order_sets, "
     "order_width, bt_n, vocab): every episode of one cell; out rows are (status, answer, cost, "
     "seq_cost, opened, reads)."},
    {"run_snippet", run_snippet, METH_VARARGS,
     "run_snippet(code, header, ci, cf, beta_table, out_i, out_f, n_code, width, vocab, bt_n): "
     "run code on a store without branches; returns the status, registers copied out."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_vm", "The tts-dsl virtual machine (see vm.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__vm(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && (PyModule_AddIntConstant(m, "N_OPS", N_OPS) < 0 ||
                      PyModule_AddStringConstant(m, "OPCODES_DIGEST", OPCODES_DIGEST) < 0)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
