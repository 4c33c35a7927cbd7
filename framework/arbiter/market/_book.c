/*
 * The storage and hot methods of `arbiter.market.book.OrderBook`, in C.
 *
 * Each side is a sorted array of integer *keys* with a parallel array of sizes. A bid's key is its
 * price and an ask's key is minus its price, so on both sides the keys ascend towards the best
 * level, which sits last: an update near the touch moves only the few levels behind it, and the
 * two sides share every routine.
 *
 * Prices and sizes are integers of the book's units (see `arbiter.market.units`) in
 * [0, 2**63 - 2]; a value outside is refused (OverflowError or ValueError), never wrapped. Costs
 * (price x size summed over levels) are exact 128-bit sums.
 *
 * The walked-depth bound of each side (see the module doc of `arbiter.market.book`) is a key:
 * an update touching a key >= the bound may change a cost query's answer, so it advances the
 * side's epoch. KEY_NONE (no walk since the last advance) admits no key; KEY_ALL (a walk found
 * the side too thin) admits every key.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>
#include <limits.h>

#define KEY_NONE INT64_MAX
#define KEY_ALL INT64_MIN
#define UNITS_MAX (INT64_MAX - 1) /* the largest price or size a book holds */
#define STACK_LEVELS 64

typedef struct {
    int64_t *keys;
    int64_t *sizes;
    Py_ssize_t n;
    Py_ssize_t cap;
    int64_t bound;
    long long epoch;
} SideLevels;

typedef struct {
    PyObject_HEAD
    SideLevels bid;
    SideLevels ask;
    long long updated_ms;
    int price_scale;
    int size_scale;
    char stale;
    long long update_id; /* the venue's sequence id of the last applied update */
} BookCore;

typedef struct {
    int64_t key;
    int64_t size;
} Level;

static const int64_t POW10[19] = {
    1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL, 100000000LL,
    1000000000LL, 10000000000LL, 100000000000LL, 1000000000000LL, 10000000000000LL,
    100000000000000LL, 1000000000000000LL, 10000000000000000LL, 100000000000000000LL,
    1000000000000000000LL,
};

/* -- one side ------------------------------------------------------------------------------ */

static void side_init(SideLevels *side) {
    side->keys = NULL;
    side->sizes = NULL;
    side->n = 0;
    side->cap = 0;
    side->bound = KEY_NONE;
    side->epoch = 0;
}

static void side_free(SideLevels *side) {
    PyMem_Free(side->keys);
    PyMem_Free(side->sizes);
    side->keys = side->sizes = NULL;
    side->n = side->cap = 0;
}

static int side_reserve(SideLevels *side, Py_ssize_t need) {
    if (need <= side->cap) return 0;
    Py_ssize_t cap = side->cap ? side->cap : 64;
    while (cap < need) cap *= 2;
    int64_t *keys = PyMem_Realloc(side->keys, (size_t)cap * sizeof(int64_t));
    if (keys == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    side->keys = keys;
    int64_t *sizes = PyMem_Realloc(side->sizes, (size_t)cap * sizeof(int64_t));
    if (sizes == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    side->sizes = sizes;
    side->cap = cap;
    return 0;
}

/* Index of the first key >= `key`; the search starts from the best end, where updates land. */
static inline Py_ssize_t side_find(const SideLevels *side, int64_t key) {
    const int64_t *keys = side->keys;
    Py_ssize_t n = side->n;
    if (n == 0 || keys[n - 1] < key) return n;
    Py_ssize_t lo = 0, hi = n - 1; /* keys[hi] >= key */
    /* a few steps from the top first: most changes are within the best levels */
    for (Py_ssize_t i = n - 1; i > 0 && i >= n - 8; i--) {
        if (keys[i - 1] < key) return i;
    }
    if (n > 8) hi = n - 8;
    else return 0;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (keys[mid] < key) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Set one level (size 0 removes it); the caller has reserved room for one more level. */
static inline void side_set(SideLevels *side, int64_t key, int64_t size) {
    Py_ssize_t i = side_find(side, key);
    Py_ssize_t n = side->n;
    if (i < n && side->keys[i] == key) {
        if (size) {
            side->sizes[i] = size;
        } else {
            memmove(side->keys + i, side->keys + i + 1, (size_t)(n - i - 1) * sizeof(int64_t));
            memmove(side->sizes + i, side->sizes + i + 1, (size_t)(n - i - 1) * sizeof(int64_t));
            side->n = n - 1;
        }
    } else if (size) {
        memmove(side->keys + i + 1, side->keys + i, (size_t)(n - i) * sizeof(int64_t));
        memmove(side->sizes + i + 1, side->sizes + i, (size_t)(n - i) * sizeof(int64_t));
        side->keys[i] = key;
        side->sizes[i] = size;
        side->n = n + 1;
    }
}

/* Apply parsed levels to one side, advancing its epoch if one lands inside the walked depth. */
static int side_apply(SideLevels *side, const Level *levels, Py_ssize_t count) {
    if (count == 0) return 0;
    if (side_reserve(side, side->n + count) < 0) return -1;
    int64_t bound = side->bound;
    int inside = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        if (levels[k].key >= bound) inside = 1;
        side_set(side, levels[k].key, levels[k].size);
    }
    if (inside) {
        side->epoch++;
        side->bound = KEY_NONE;
    }
    return 0;
}

/* -- conversions --------------------------------------------------------------------------- */

static int units_from_object(PyObject *obj, const char *what, int64_t *out) {
    int overflow = 0;
    long long value = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (value == -1 && PyErr_Occurred()) return -1;
    if (overflow || value > UNITS_MAX) {
        PyErr_Format(PyExc_OverflowError, "expected a %s of at most %lld units, was %R", what,
                     (long long)UNITS_MAX, obj);
        return -1;
    }
    if (value < 0) {
        PyErr_Format(PyExc_ValueError, "expected a non-negative %s, was %R", what, obj);
        return -1;
    }
    *out = (int64_t)value;
    return 0;
}

/* (price, size) pairs from any iterable of 2-item sequences into `levels` as keys. */
static Py_ssize_t levels_from_objects(PyObject *iterable, int is_bid, Level **levels,
                                      Level *stack) {
    PyObject *seq = PySequence_Fast(iterable, "expected an iterable of (price, size) levels");
    if (seq == NULL) return -1;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    *levels = stack;
    if (count > STACK_LEVELS) {
        *levels = PyMem_Malloc((size_t)count * sizeof(Level));
        if (*levels == NULL) {
            Py_DECREF(seq);
            PyErr_NoMemory();
            return -1;
        }
    }
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *item = items[k];
        PyObject *price_obj, *size_obj;
        PyObject *pair = NULL;
        if (PyTuple_CheckExact(item) && PyTuple_GET_SIZE(item) == 2) {
            price_obj = PyTuple_GET_ITEM(item, 0);
            size_obj = PyTuple_GET_ITEM(item, 1);
        } else {
            pair = PySequence_Fast(item, "expected a (price, size) level");
            if (pair == NULL) goto error;
            if (PySequence_Fast_GET_SIZE(pair) != 2) {
                PyErr_Format(PyExc_ValueError, "expected a (price, size) level, was %R", item);
                Py_DECREF(pair);
                goto error;
            }
            price_obj = PySequence_Fast_GET_ITEM(pair, 0);
            size_obj = PySequence_Fast_GET_ITEM(pair, 1);
        }
        int64_t price, size;
        int failed = units_from_object(price_obj, "price", &price) < 0 ||
                     units_from_object(size_obj, "size", &size) < 0;
        Py_XDECREF(pair);
        if (failed) goto error;
        (*levels)[k].key = is_bid ? price : -price;
        (*levels)[k].size = size;
    }
    Py_DECREF(seq);
    return count;
error:
    if (*levels != stack) PyMem_Free(*levels);
    *levels = NULL;
    Py_DECREF(seq);
    return -1;
}

/* A plain non-negative decimal text ("123", "0.50") in units of 10**-scale, or -1 when the text
 * is anything else, has more decimals than `scale` that are not zeros, or exceeds UNITS_MAX. */
static inline int64_t parse_units_chars(const char *s, Py_ssize_t len, int scale) {
    if (len == 0 || s[0] < '0' || s[0] > '9') return -1;
    uint64_t value = 0;
    Py_ssize_t i = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        if (value > (uint64_t)UNITS_MAX / 10) return -1;
        value = value * 10 + (uint64_t)(s[i] - '0');
        if (value > (uint64_t)UNITS_MAX) return -1;
    }
    int decimals = 0;
    if (i < len) {
        if (s[i] != '.' || i + 1 == len) return -1;
        for (i++; i < len; i++) {
            char c = s[i];
            if (c < '0' || c > '9') return -1;
            if (decimals < scale) {
                if (value > (uint64_t)UNITS_MAX / 10) return -1;
                value = value * 10 + (uint64_t)(c - '0');
                if (value > (uint64_t)UNITS_MAX) return -1;
                decimals++;
            } else if (c != '0') {
                return -1; /* off the grid */
            }
        }
    }
    int missing = scale - decimals;
    if (missing > 18) return value == 0 ? 0 : -1;
    uint64_t factor = (uint64_t)POW10[missing];
    if (value && value > (uint64_t)UNITS_MAX / factor) return -1;
    return (int64_t)(value * factor);
}

static inline int64_t parse_units(PyObject *text, int scale) {
    if (!PyUnicode_Check(text)) return -1;
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(text, &len);
    if (s == NULL) {
        PyErr_Clear();
        return -1;
    }
    return parse_units_chars(s, len, scale);
}

/* A (price, size) tuple of Python ints. */
static inline PyObject *pair_tuple(long long price, long long size) {
    PyObject *tuple = PyTuple_New(2);
    if (tuple == NULL) return NULL;
    PyObject *p = PyLong_FromLongLong(price);
    if (p == NULL) {
        Py_DECREF(tuple);
        return NULL;
    }
    PyTuple_SET_ITEM(tuple, 0, p);
    PyObject *q = PyLong_FromLongLong(size);
    if (q == NULL) {
        Py_DECREF(tuple);
        return NULL;
    }
    PyTuple_SET_ITEM(tuple, 1, q);
    return tuple;
}

/* The list of (price units, size units) tuples of parsed levels. */
static PyObject *level_list(const Level *levels, Py_ssize_t n, int is_bid) {
    PyObject *list = PyList_New(n);
    if (list == NULL) return NULL;
    for (Py_ssize_t k = 0; k < n; k++) {
        int64_t key = levels[k].key;
        PyObject *level = pair_tuple(is_bid ? key : -key, levels[k].size);
        if (level == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, k, level);
    }
    return list;
}

static inline const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* One JSON string of a plain decimal ("123.45", no escapes) in units; NULL when it is not. */
static inline const char *json_units(const char *p, const char *end, int scale, int64_t *out) {
    if (p >= end || *p != '"') return NULL;
    const char *start = ++p;
    while (p < end && ((*p >= '0' && *p <= '9') || *p == '.')) p++;
    if (p >= end || *p != '"') return NULL;
    *out = parse_units_chars(start, p - start, scale);
    return *out < 0 ? NULL : p + 1;
}

/* Levels from JSON text `[["price","size"],...]` (the venue's bytes as received); 0 parsed, 1
 * when the text is anything else (nothing built), -1 on error. */
static int levels_from_json(PyObject *raw, int is_bid, int price_scale, int size_scale,
                            Level **levels, Level *stack, Py_ssize_t *count) {
    *levels = stack;
    *count = 0;
    Py_buffer view;
    if (PyObject_GetBuffer(raw, &view, PyBUF_SIMPLE) < 0) {
        PyErr_Clear();
        return 1;
    }
    const char *p = view.buf, *end = p + view.len;
    Py_ssize_t cap = STACK_LEVELS, n = 0;
    int status = 1;
    p = skip_ws(p, end);
    if (p >= end || *p++ != '[') goto done;
    p = skip_ws(p, end);
    if (p < end && *p == ']') {
        p++;
    } else {
        for (;;) {
            int64_t price, size;
            if (p >= end || *p++ != '[') goto done;
            p = json_units(skip_ws(p, end), end, price_scale, &price);
            if (p == NULL) goto done;
            p = skip_ws(p, end);
            if (p >= end || *p++ != ',') goto done;
            p = json_units(skip_ws(p, end), end, size_scale, &size);
            if (p == NULL) goto done;
            p = skip_ws(p, end);
            if (p >= end || *p++ != ']') goto done;
            if (n == cap) {
                Level *grown = PyMem_Malloc((size_t)cap * 2 * sizeof(Level));
                if (grown == NULL) {
                    PyErr_NoMemory();
                    status = -1;
                    goto done;
                }
                memcpy(grown, *levels, (size_t)n * sizeof(Level));
                if (*levels != stack) PyMem_Free(*levels);
                *levels = grown;
                cap *= 2;
            }
            (*levels)[n].key = is_bid ? price : -price;
            (*levels)[n].size = size;
            n++;
            p = skip_ws(p, end);
            if (p < end && *p == ',') {
                p = skip_ws(p + 1, end);
                continue;
            }
            if (p >= end || *p++ != ']') goto done;
            break;
        }
    }
    if (skip_ws(p, end) == end) {
        status = 0;
        *count = n;
    }
done:
    PyBuffer_Release(&view);
    return status;
}

/* An exact Python int of a 128-bit value. */
static PyObject *int_from_i128(__int128 value) {
    if (value >= INT64_MIN && value <= INT64_MAX) return PyLong_FromLongLong((long long)value);
    unsigned char bytes[16];
    unsigned __int128 bits = (unsigned __int128)value;
    for (int k = 0; k < 16; k++) {
        bytes[k] = (unsigned char)(bits & 0xff);
        bits >>= 8;
    }
    return _PyLong_FromByteArray(bytes, 16, 1, 1);
}

/* -- the type ------------------------------------------------------------------------------ */

static int is_crossed(const BookCore *self) {
    /* best bid key is its price, best ask key minus its price */
    return self->bid.n && self->ask.n &&
           self->bid.keys[self->bid.n - 1] >= -self->ask.keys[self->ask.n - 1];
}

static PyObject *BookCore_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    BookCore *self = (BookCore *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    side_init(&self->bid);
    side_init(&self->ask);
    self->updated_ms = 0;
    self->price_scale = 0;
    self->size_scale = 0;
    self->stale = 1;
    return (PyObject *)self;
}

static int BookCore_init(BookCore *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"price_scale", "size_scale", NULL};
    int price_scale, size_scale;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "ii", kwlist, &price_scale, &size_scale))
        return -1;
    if (price_scale < 0 || price_scale > 39 || size_scale < 0 || size_scale > 39) {
        PyErr_Format(PyExc_ValueError, "expected scales in [0, 39], was %d and %d", price_scale,
                     size_scale);
        return -1;
    }
    self->price_scale = price_scale;
    self->size_scale = size_scale;
    return 0;
}

static void BookCore_dealloc(BookCore *self) {
    side_free(&self->bid);
    side_free(&self->ask);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Levels given as Python (price, size) pairs, applied to both sides (after clearing them when
 * `reset`) atomically: a bad level leaves the book untouched. 0, or -1 on error. */
static int apply_objects(BookCore *self, PyObject *bid_objs, PyObject *ask_objs, long long ts,
                         int reset) {
    Level bid_stack[STACK_LEVELS], ask_stack[STACK_LEVELS];
    Level *bids = NULL, *asks = NULL;
    Py_ssize_t nb = levels_from_objects(bid_objs, 1, &bids, bid_stack);
    if (nb < 0) return -1;
    Py_ssize_t na = levels_from_objects(ask_objs, 0, &asks, ask_stack);
    if (na < 0) {
        if (bids != bid_stack) PyMem_Free(bids);
        return -1;
    }
    if (reset) {
        self->bid.n = 0;
        self->ask.n = 0;
    }
    int failed = side_apply(&self->bid, bids, nb) < 0 || side_apply(&self->ask, asks, na) < 0;
    if (bids != bid_stack) PyMem_Free(bids);
    if (asks != ask_stack) PyMem_Free(asks);
    if (failed) return -1;
    if (reset) {
        self->bid.epoch++;
        self->ask.epoch++;
        self->bid.bound = KEY_NONE;
        self->ask.bound = KEY_NONE;
    }
    self->updated_ms = ts;
    return 0;
}

static PyObject *BookCore_reset_levels(BookCore *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_reset_levels(bids, asks, ts_ms)");
        return NULL;
    }
    long long ts = PyLong_AsLongLong(args[2]);
    if (ts == -1 && PyErr_Occurred()) return NULL;
    if (apply_objects(self, args[0], args[1], ts, 1) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *BookCore_apply(BookCore *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames) {
    /* apply(bids, asks, ts_ms=0); ts_ms may come by keyword */
    PyObject *ts_obj = nargs == 3 ? args[2] : NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs < 2 || nargs > 3 || nkw > 1 || (nkw == 1 && nargs == 3)) {
        PyErr_SetString(PyExc_TypeError, "apply(bids, asks, ts_ms=0)");
        return NULL;
    }
    if (nkw == 1) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(kwnames, 0)) ||
            PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "ts_ms") != 0) {
            PyErr_Format(PyExc_TypeError, "apply() got an unexpected keyword argument %R",
                         PyTuple_GET_ITEM(kwnames, 0));
            return NULL;
        }
        ts_obj = args[nargs];
    }
    long long ts = 0;
    if (ts_obj != NULL) {
        ts = PyLong_AsLongLong(ts_obj);
        if (ts == -1 && PyErr_Occurred()) return NULL;
    }
    if (apply_objects(self, args[0], args[1], ts, 0) < 0) return NULL;
    return PyBool_FromLong(is_crossed(self));
}

static PyObject *BookCore_apply_next_json(BookCore *self, PyObject *const *args,
                                          Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "apply_next_json(update_id, bids, asks, ts_ms)");
        return NULL;
    }
    int overflow = 0;
    long long update_id = PyLong_AsLongLongAndOverflow(args[0], &overflow);
    if (update_id == -1 && PyErr_Occurred()) return NULL;
    if (overflow || self->stale || self->update_id == LLONG_MAX ||
        update_id != self->update_id + 1)
        Py_RETURN_NONE;
    long long ts = PyLong_AsLongLong(args[3]);
    if (ts == -1 && PyErr_Occurred()) return NULL;
    Level bid_stack[STACK_LEVELS], ask_stack[STACK_LEVELS];
    Level *bids = NULL, *asks = NULL;
    Py_ssize_t nb = 0, na = 0;
    PyObject *result = NULL;
    int status = levels_from_json(args[1], 1, self->price_scale, self->size_scale, &bids,
                                  bid_stack, &nb);
    if (status == 0)
        status = levels_from_json(args[2], 0, self->price_scale, self->size_scale, &asks,
                                  ask_stack, &na);
    if (status == 0) {
        PyObject *bid_list = level_list(bids, nb, 1);
        PyObject *ask_list = bid_list ? level_list(asks, na, 0) : NULL;
        result = ask_list ? PyTuple_New(3) : NULL;
        if (result == NULL || side_apply(&self->bid, bids, nb) < 0 ||
            side_apply(&self->ask, asks, na) < 0) {
            Py_XDECREF(bid_list);
            Py_XDECREF(ask_list);
            Py_CLEAR(result);
            status = -1;
        } else {
            self->updated_ms = ts;
            self->update_id = update_id;
            PyTuple_SET_ITEM(result, 0, bid_list);
            PyTuple_SET_ITEM(result, 1, ask_list);
            PyTuple_SET_ITEM(result, 2, PyBool_FromLong(is_crossed(self)));
        }
    }
    if (bids != NULL && bids != bid_stack) PyMem_Free(bids);
    if (asks != NULL && asks != ask_stack) PyMem_Free(asks);
    if (status < 0) return NULL;
    if (status > 0) Py_RETURN_NONE;
    return result;
}

static PyObject *level_tuple(int64_t key, int64_t size, int is_bid) {
    return pair_tuple(is_bid ? key : -key, size);
}

static PyObject *BookCore_best_bid(BookCore *self, PyObject *unused) {
    SideLevels *side = &self->bid;
    if (!side->n) Py_RETURN_NONE;
    return level_tuple(side->keys[side->n - 1], side->sizes[side->n - 1], 1);
}

static PyObject *BookCore_best_ask(BookCore *self, PyObject *unused) {
    SideLevels *side = &self->ask;
    if (!side->n) Py_RETURN_NONE;
    return level_tuple(side->keys[side->n - 1], side->sizes[side->n - 1], 0);
}

static PyObject *BookCore_is_crossed(BookCore *self, PyObject *unused) {
    return PyBool_FromLong(is_crossed(self));
}

static PyObject *BookCore_depth_of(BookCore *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_depth_of(is_bid, levels)");
        return NULL;
    }
    int is_bid = PyObject_IsTrue(args[0]);
    if (is_bid < 0) return NULL;
    SideLevels *side = is_bid ? &self->bid : &self->ask;
    Py_ssize_t count = side->n;
    if (args[1] != Py_None) {
        Py_ssize_t limit = PyLong_AsSsize_t(args[1]);
        if (limit == -1 && PyErr_Occurred()) return NULL;
        if (limit < 0) limit = 0;
        if (limit < count) count = limit;
    }
    PyObject *list = PyList_New(count);
    if (list == NULL) return NULL;
    for (Py_ssize_t k = 0; k < count; k++) {
        Py_ssize_t i = side->n - 1 - k;
        PyObject *level = level_tuple(side->keys[i], side->sizes[i], is_bid);
        if (level == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, k, level);
    }
    return list;
}

/* The UTF-8 text `texts[price]` of one level (borrowed; valid while the dict holds it), or
 * NULL with an exception set (KeyError for a level without its text). */
static const char *level_text(PyObject *texts, int64_t price, Py_ssize_t *len) {
    PyObject *key = PyLong_FromLongLong(price);
    if (key == NULL) return NULL;
    PyObject *text = PyDict_GetItemWithError(texts, key); /* borrowed */
    if (text == NULL) {
        if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, key);
        Py_DECREF(key);
        return NULL;
    }
    Py_DECREF(key);
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "expected a str level text, was %.80s",
                     Py_TYPE(text)->tp_name);
        return NULL;
    }
    return PyUnicode_AsUTF8AndSize(text, len); /* cached in the str after the first call */
}

#define MAX_JOINED_LEVELS 256 /* per side; a deeper join is refused rather than truncated */

/* interleaved_texts(bid_texts, ask_texts, depth, sep): the texts (price -> str) of the best
 * `depth` levels of each side, bid and ask interleaved (the shorter side simply ends), joined
 * by `sep`, as UTF-8 bytes: what a venue's integrity rule over its own level texts hashes.
 * One pass finds the texts, one copies them into the result: no list, no str in between. */
static PyObject *BookCore_interleaved_texts(BookCore *self, PyObject *const *args,
                                            Py_ssize_t nargs) {
    if (nargs != 4 || !PyDict_Check(args[0]) || !PyDict_Check(args[1]) ||
        !PyUnicode_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "interleaved_texts(bid_texts: dict, ask_texts: dict, depth: int, sep: str)");
        return NULL;
    }
    Py_ssize_t depth = PyLong_AsSsize_t(args[2]);
    if (depth == -1 && PyErr_Occurred()) return NULL;
    if (depth < 0 || depth > MAX_JOINED_LEVELS) {
        PyErr_Format(PyExc_ValueError, "expected depth in 0..%d, was %zd", MAX_JOINED_LEVELS,
                     depth);
        return NULL;
    }
    Py_ssize_t sep_len;
    const char *sep = PyUnicode_AsUTF8AndSize(args[3], &sep_len);
    if (sep == NULL) return NULL;
    const SideLevels *bid = &self->bid, *ask = &self->ask;
    const char *texts[2 * MAX_JOINED_LEVELS];
    Py_ssize_t lens[2 * MAX_JOINED_LEVELS];
    Py_ssize_t n = 0, total = 0;
    for (Py_ssize_t k = 0; k < depth && (k < bid->n || k < ask->n); k++) {
        if (k < bid->n) {
            texts[n] = level_text(args[0], bid->keys[bid->n - 1 - k], &lens[n]);
            if (texts[n] == NULL) return NULL;
            total += lens[n++];
        }
        if (k < ask->n) {
            texts[n] = level_text(args[1], -ask->keys[ask->n - 1 - k], &lens[n]);
            if (texts[n] == NULL) return NULL;
            total += lens[n++];
        }
    }
    if (n > 1) total += (n - 1) * sep_len;
    PyObject *out = PyBytes_FromStringAndSize(NULL, total);
    if (out == NULL) return NULL;
    char *at = PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i > 0) {
            memcpy(at, sep, (size_t)sep_len);
            at += sep_len;
        }
        memcpy(at, texts[i], (size_t)lens[i]);
        at += lens[i];
    }
    return out;
}

static PyObject *BookCore_size_of(BookCore *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_size_of(is_bid, price)");
        return NULL;
    }
    int is_bid = PyObject_IsTrue(args[0]);
    if (is_bid < 0) return NULL;
    int overflow = 0;
    long long price = PyLong_AsLongLongAndOverflow(args[1], &overflow);
    if (price == -1 && PyErr_Occurred()) return NULL;
    if (overflow || price < 0 || price > UNITS_MAX) return PyLong_FromLong(0);
    SideLevels *side = is_bid ? &self->bid : &self->ask;
    int64_t key = is_bid ? price : -price;
    Py_ssize_t i = side_find(side, key);
    if (i < side->n && side->keys[i] == key) return PyLong_FromLongLong(side->sizes[i]);
    return PyLong_FromLong(0);
}

/* Take `wanted` units from one side, best level first: 1 and the exact sum of key x size in
 * `cost` (minus the cost on the ask side, whose keys are minus prices), or 0 when the side holds less. Records how deep the walk went (see the top of this
 * file). The sum is below UNITS_MAX * UNITS_MAX < 2**126 (every price and `wanted` are at most
 * UNITS_MAX), so 128 bits hold it exactly. */
static int side_take(SideLevels *side, int64_t wanted, __int128 *cost) {
    int64_t remaining = wanted;
    __int128 sum = 0;
    for (Py_ssize_t i = side->n - 1; i >= 0; i--) {
        int64_t key = side->keys[i];
        int64_t available = side->sizes[i];
        if (available >= remaining) {
            if (key < side->bound) side->bound = key;
            *cost = sum + (__int128)key * remaining;
            return 1;
        }
        sum += (__int128)key * available;
        remaining -= available;
    }
    side->bound = KEY_ALL;
    return 0;
}

static PyObject *take(SideLevels *side, PyObject *size_obj, int is_bid) {
    int overflow = 0;
    long long wanted = PyLong_AsLongLongAndOverflow(size_obj, &overflow);
    if (wanted == -1 && PyErr_Occurred()) return NULL;
    if (overflow || wanted > UNITS_MAX) {
        PyErr_Format(PyExc_OverflowError, "expected a size of at most %lld units, was %R",
                     (long long)UNITS_MAX, size_obj);
        return NULL;
    }
    __int128 cost;
    if (!side_take(side, wanted, &cost)) Py_RETURN_NONE;
    return int_from_i128(is_bid ? cost : -cost);
}

static PyObject *BookCore_buy_cost(BookCore *self, PyObject *size) {
    return take(&self->ask, size, 0);
}

static PyObject *BookCore_sell_proceeds(BookCore *self, PyObject *size) {
    return take(&self->bid, size, 1);
}

static PyMethodDef BookCore_methods[] = {
    {"apply", (PyCFunction)(void (*)(void))BookCore_apply, METH_FASTCALL | METH_KEYWORDS,
     "apply(bids, asks, ts_ms=0) -> crossed: set absolute level sizes (0 deletes)."},
    {"apply_next_json", (PyCFunction)(void (*)(void))BookCore_apply_next_json, METH_FASTCALL,
     "apply_next_json(update_id, bids, asks, ts_ms) -> (bids, asks, crossed) | None: the "
     "update that follows the last one on a live book, each side's levels as the venue's JSON "
     "bytes; None (book untouched) otherwise."},
    {"_reset_levels", (PyCFunction)(void (*)(void))BookCore_reset_levels, METH_FASTCALL,
     "Replace both sides' levels."},
    {"best_bid", (PyCFunction)BookCore_best_bid, METH_NOARGS, "(price, size) or None."},
    {"best_ask", (PyCFunction)BookCore_best_ask, METH_NOARGS, "(price, size) or None."},
    {"is_crossed", (PyCFunction)BookCore_is_crossed, METH_NOARGS, "best bid >= best ask."},
    {"_depth_of", (PyCFunction)(void (*)(void))BookCore_depth_of, METH_FASTCALL,
     "_depth_of(is_bid, levels) -> best levels first."},
    {"interleaved_texts", (PyCFunction)(void (*)(void))BookCore_interleaved_texts,
     METH_FASTCALL,
     "interleaved_texts(bid_texts, ask_texts, depth, sep) -> bytes: the best `depth` levels' "
     "texts (price -> str), bid and ask interleaved, joined by `sep`, UTF-8."},
    {"_size_of", (PyCFunction)(void (*)(void))BookCore_size_of, METH_FASTCALL,
     "_size_of(is_bid, price) -> size units at that price (0 when none)."},
    {"buy_cost", (PyCFunction)BookCore_buy_cost, METH_O,
     "Cost of taking `size` units from the asks, or None when they hold less."},
    {"sell_proceeds", (PyCFunction)BookCore_sell_proceeds, METH_O,
     "Proceeds of selling `size` units into the bids, or None when they hold less."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef BookCore_members[] = {
    {"bid_epoch", T_LONGLONG, offsetof(BookCore, bid.epoch), READONLY, NULL},
    {"ask_epoch", T_LONGLONG, offsetof(BookCore, ask.epoch), READONLY, NULL},
    {"bid_levels", T_PYSSIZET, offsetof(BookCore, bid.n), READONLY, NULL},
    {"ask_levels", T_PYSSIZET, offsetof(BookCore, ask.n), READONLY, NULL},
    {"updated_ms", T_LONGLONG, offsetof(BookCore, updated_ms), 0, NULL},
    {"price_scale", T_INT, offsetof(BookCore, price_scale), READONLY, NULL},
    {"size_scale", T_INT, offsetof(BookCore, size_scale), READONLY, NULL},
    {"stale", T_BOOL, offsetof(BookCore, stale), 0, NULL},
    {"update_id", T_LONGLONG, offsetof(BookCore, update_id), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject BookCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "arbiter.market._book.BookCore",
    .tp_doc = "Levels and hot queries of an L2 book; see arbiter.market.book.OrderBook.",
    .tp_basicsize = sizeof(BookCore),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = BookCore_new,
    .tp_init = (initproc)BookCore_init,
    .tp_dealloc = (destructor)BookCore_dealloc,
    .tp_methods = BookCore_methods,
    .tp_members = BookCore_members,
};

/* -- the spread engine's per-pair core ----------------------------------------------------- */

/* What `PairCore.refresh` reports; see arbiter.market.spread. */
enum {
    NEED_BOOKS = 1,   /* no books bound yet */
    STALE = 2,        /* a bound book is stale: both figures are unknown */
    ENTRY_ON = 4,
    ENTRY_OFF = 8,
    ENTRY_THIN = 16,  /* entry turned off: a side too thin (or priced 0) */
    EXIT_ON = 32,
    EXIT_OFF = 64,
    EXIT_THIN = 128,
};

/* The four costs a pair reads, in this order. */
enum { SPOT_ASK = 0, PERP_BID = 1, SPOT_BID = 2, PERP_ASK = 3 };

/* A threshold constant: a Python int, and its 128-bit copy when it fits. */
typedef struct {
    PyObject *value;
    __int128 small;
    char fits;
} Rule;

typedef struct {
    PyObject_HEAD
    BookCore *spot_book;
    BookCore *perp_book;
    int64_t spot_qty;
    int64_t perp_qty;
    long long epoch[4];
    __int128 cost[4]; /* positive: price units x size units */
    char known[4];    /* the side held the pair's size */
    Rule entry_a, entry_on, entry_hold, exit_a, exit_on, exit_hold;
    char entry_active;
    char exit_active;
    char dirty;
} PairCore;

static int rule_set(Rule *rule, PyObject *value) {
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "expected an int, was %R", value);
        return -1;
    }
    unsigned char bytes[16];
    rule->fits = _PyLong_AsByteArray((PyLongObject *)value, bytes, 16, 1, 1) == 0;
    if (!rule->fits) {
        PyErr_Clear();
    } else {
        unsigned __int128 bits = 0;
        for (int k = 15; k >= 0; k--) bits = (bits << 8) | bytes[k];
        rule->small = (__int128)bits;
    }
    Py_INCREF(value);
    Py_XSETREF(rule->value, value);
    return 0;
}

/* Compare cost_a * a against cost_b * b: -1, 0 or 1 (or -2 on error). Exact whatever the sizes:
 * in 128 bits when both products fit, in Python integers otherwise. */
static int compare_products(__int128 cost_a, const Rule *a, __int128 cost_b, const Rule *b) {
    __int128 left, right;
    if (a->fits && b->fits && !__builtin_mul_overflow(cost_a, a->small, &left) &&
        !__builtin_mul_overflow(cost_b, b->small, &right)) {
        return (left > right) - (left < right);
    }
    PyObject *ca = int_from_i128(cost_a), *cb = int_from_i128(cost_b);
    PyObject *pa = (ca && a->value) ? PyNumber_Multiply(ca, a->value) : NULL;
    PyObject *pb = (cb && b->value) ? PyNumber_Multiply(cb, b->value) : NULL;
    int result = -2;
    if (pa && pb) {
        int gt = PyObject_RichCompareBool(pa, pb, Py_GT);
        int lt = gt < 0 ? -1 : PyObject_RichCompareBool(pa, pb, Py_LT);
        if (gt >= 0 && lt >= 0) result = gt - lt;
    }
    Py_XDECREF(ca);
    Py_XDECREF(cb);
    Py_XDECREF(pa);
    Py_XDECREF(pb);
    return result;
}

static PyObject *PairCore_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PairCore *self = (PairCore *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    for (int k = 0; k < 4; k++) self->epoch[k] = -1; /* never an epoch */
    return (PyObject *)self;
}

static int PairCore_traverse(PairCore *self, visitproc visit, void *arg) {
    /* (a subclass's own traverse visits its type; this static base does not) */
    Py_VISIT(self->spot_book);
    Py_VISIT(self->perp_book);
    return 0;
}

static int PairCore_clear(PairCore *self) {
    Py_CLEAR(self->spot_book);
    Py_CLEAR(self->perp_book);
    Py_CLEAR(self->entry_a.value);
    Py_CLEAR(self->entry_on.value);
    Py_CLEAR(self->entry_hold.value);
    Py_CLEAR(self->exit_a.value);
    Py_CLEAR(self->exit_on.value);
    Py_CLEAR(self->exit_hold.value);
    return 0;
}

static void PairCore_dealloc(PairCore *self) {
    PyObject_GC_UnTrack(self);
    PairCore_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *PairCore_bind(PairCore *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyObject_TypeCheck(args[0], &BookCoreType) ||
        !PyObject_TypeCheck(args[1], &BookCoreType)) {
        PyErr_SetString(PyExc_TypeError, "bind(spot_book, perp_book): two books expected");
        return NULL;
    }
    Py_INCREF(args[0]);
    Py_XSETREF(self->spot_book, (BookCore *)args[0]);
    Py_INCREF(args[1]);
    Py_XSETREF(self->perp_book, (BookCore *)args[1]);
    for (int k = 0; k < 4; k++) {
        self->epoch[k] = -1;
        self->known[k] = 0;
    }
    Py_RETURN_NONE;
}

static int qty_from_object(PyObject *obj, int64_t *out) {
    int overflow = 0;
    long long value = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (value == -1 && PyErr_Occurred()) return -1;
    if (overflow || value > UNITS_MAX || value <= 0) {
        PyErr_Format(PyExc_ValueError, "expected a pair size of 1 to %lld units, was %R",
                     (long long)UNITS_MAX, obj);
        return -1;
    }
    *out = value;
    return 0;
}

static PyObject *PairCore_set_rules(PairCore *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError,
                        "set_rules(spot_qty, perp_qty, entry_a, entry_on, entry_hold, exit_a, "
                        "exit_on, exit_hold)");
        return NULL;
    }
    int64_t spot_qty, perp_qty;
    if (qty_from_object(args[0], &spot_qty) < 0 || qty_from_object(args[1], &perp_qty) < 0)
        return NULL;
    Rule *rules[6] = {&self->entry_a, &self->entry_on, &self->exit_a,
                      &self->exit_on, &self->entry_hold, &self->exit_hold};
    PyObject *values[6] = {args[2], args[3], args[5], args[6], args[4], args[7]};
    for (int k = 0; k < 6; k++) {
        if (rule_set(rules[k], values[k]) < 0) return NULL;
    }
    self->spot_qty = spot_qty;
    self->perp_qty = perp_qty;
    for (int k = 0; k < 4; k++) {
        self->epoch[k] = -1;
        self->known[k] = 0;
    }
    Py_RETURN_NONE;
}

static PyObject *PairCore_forget(PairCore *self, PyObject *unused) {
    for (int k = 0; k < 4; k++) {
        self->epoch[k] = -1;
        self->known[k] = 0;
    }
    Py_RETURN_NONE;
}

/* Walk a side again if its epoch moved; returns whether it did. */
static inline int refresh_cost(PairCore *self, int which, SideLevels *side, int64_t qty) {
    if (side->epoch == self->epoch[which]) return 0;
    self->epoch[which] = side->epoch;
    __int128 cost;
    self->known[which] = side_take(side, qty, &cost);
    if (self->known[which]) {
        cost = which == SPOT_ASK || which == PERP_ASK ? -cost : cost;
        self->known[which] = cost != 0; /* a zero price is no spread */
        self->cost[which] = cost;
    }
    return 1;
}

/* Refresh both figures from the bound books; report (and apply to the active flags) threshold
 * crossings as in arbiter.market.spread: entry on at perp_bid * a >= spot_ask * on, off below
 * spot_ask * hold; exit on at perp_ask * a < spot_bid * on, off at >= spot_bid * hold. */
static PyObject *PairCore_refresh(PairCore *self, PyObject *unused) {
    BookCore *spot = self->spot_book, *perp = self->perp_book;
    if (spot == NULL || perp == NULL) return PyLong_FromLong(NEED_BOOKS);
    if (spot->stale || perp->stale) return PyLong_FromLong(STALE);
    int entry_changed = refresh_cost(self, SPOT_ASK, &spot->ask, self->spot_qty);
    entry_changed |= refresh_cost(self, PERP_BID, &perp->bid, self->perp_qty);
    int exit_changed = refresh_cost(self, SPOT_BID, &spot->bid, self->spot_qty);
    exit_changed |= refresh_cost(self, PERP_ASK, &perp->ask, self->perp_qty);
    long code = 0;
    if (entry_changed) {
        if (self->known[SPOT_ASK] && self->known[PERP_BID]) {
            const Rule *bar = self->entry_active ? &self->entry_hold : &self->entry_on;
            int c = compare_products(self->cost[PERP_BID], &self->entry_a, self->cost[SPOT_ASK],
                                     bar);
            if (c == -2) return NULL;
            if (self->entry_active && c < 0) {
                self->entry_active = 0;
                code |= ENTRY_OFF;
            } else if (!self->entry_active && c >= 0) {
                self->entry_active = 1;
                code |= ENTRY_ON;
            }
        } else if (self->entry_active) {
            self->entry_active = 0;
            code |= ENTRY_THIN;
        }
    }
    if (exit_changed) {
        if (self->known[SPOT_BID] && self->known[PERP_ASK]) {
            const Rule *bar = self->exit_active ? &self->exit_hold : &self->exit_on;
            int c = compare_products(self->cost[PERP_ASK], &self->exit_a, self->cost[SPOT_BID],
                                     bar);
            if (c == -2) return NULL;
            if (self->exit_active && c >= 0) {
                self->exit_active = 0;
                code |= EXIT_OFF;
            } else if (!self->exit_active && c < 0) {
                self->exit_active = 1;
                code |= EXIT_ON;
            }
        } else if (self->exit_active) {
            self->exit_active = 0;
            code |= EXIT_THIN;
        }
    }
    return PyLong_FromLong(code);
}

static PyObject *cost_getter(PairCore *self, void *closure) {
    int which = (int)(intptr_t)closure;
    if (!self->known[which]) Py_RETURN_NONE;
    return int_from_i128(self->cost[which]);
}

static PyGetSetDef PairCore_getset[] = {
    {"spot_ask", (getter)cost_getter, NULL, "cost of buying the size from the spot asks",
     (void *)(intptr_t)SPOT_ASK},
    {"perp_bid", (getter)cost_getter, NULL, "proceeds of selling the size into the perp bids",
     (void *)(intptr_t)PERP_BID},
    {"spot_bid", (getter)cost_getter, NULL, "proceeds of selling the size into the spot bids",
     (void *)(intptr_t)SPOT_BID},
    {"perp_ask", (getter)cost_getter, NULL, "cost of buying the size from the perp asks",
     (void *)(intptr_t)PERP_ASK},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef PairCore_members[] = {
    {"spot_book", T_OBJECT, offsetof(PairCore, spot_book), READONLY, NULL},
    {"perp_book", T_OBJECT, offsetof(PairCore, perp_book), READONLY, NULL},
    {"entry_active", T_BOOL, offsetof(PairCore, entry_active), 0, NULL},
    {"exit_active", T_BOOL, offsetof(PairCore, exit_active), 0, NULL},
    {"dirty", T_BOOL, offsetof(PairCore, dirty), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyMethodDef PairCore_methods[] = {
    {"bind", (PyCFunction)(void (*)(void))PairCore_bind, METH_FASTCALL,
     "bind(spot_book, perp_book): the books this pair reads from now on."},
    {"set_rules", (PyCFunction)(void (*)(void))PairCore_set_rules, METH_FASTCALL,
     "set_rules(spot_qty, perp_qty, entry_a, entry_on, entry_hold, exit_a, exit_on, "
     "exit_hold)"},
    {"forget", (PyCFunction)PairCore_forget, METH_NOARGS, "Both figures unknown."},
    {"refresh", (PyCFunction)PairCore_refresh, METH_NOARGS,
     "Recompute what changed; the crossings as flags."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject PairCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "arbiter.market._book.PairCore",
    .tp_doc = "Costs, epochs and threshold states of one pair; see arbiter.market.spread.",
    .tp_basicsize = sizeof(PairCore),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PairCore_new,
    .tp_traverse = (traverseproc)PairCore_traverse,
    .tp_clear = (inquiry)PairCore_clear,
    .tp_dealloc = (destructor)PairCore_dealloc,
    .tp_methods = PairCore_methods,
    .tp_members = PairCore_members,
    .tp_getset = PairCore_getset,
};

/* -- the spread engine's dirty set --------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *by_leg; /* venue -> symbol -> list of PairCore */
    PyObject *dirty;  /* PairCores marked since the last refresh, in marking order */
} DirtyPairs;

static PyObject *DirtyPairs_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *by_leg;
    if (!PyArg_ParseTuple(args, "O!:DirtyPairs", &PyDict_Type, &by_leg)) return NULL;
    DirtyPairs *self = (DirtyPairs *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->dirty = PyList_New(0);
    if (self->dirty == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    Py_INCREF(by_leg);
    self->by_leg = by_leg;
    return (PyObject *)self;
}

static int DirtyPairs_traverse(DirtyPairs *self, visitproc visit, void *arg) {
    Py_VISIT(self->by_leg);
    Py_VISIT(self->dirty);
    return 0;
}

static int DirtyPairs_clear(DirtyPairs *self) {
    Py_CLEAR(self->by_leg);
    Py_CLEAR(self->dirty);
    return 0;
}

static void DirtyPairs_dealloc(DirtyPairs *self) {
    PyObject_GC_UnTrack(self);
    DirtyPairs_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *DirtyPairs_mark(DirtyPairs *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "mark(venue, symbol)");
        return NULL;
    }
    PyObject *symbols = PyDict_GetItemWithError(self->by_leg, args[0]);
    if (symbols == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    if (!PyDict_Check(symbols)) {
        PyErr_SetString(PyExc_TypeError, "expected venue -> {symbol: [pairs]}");
        return NULL;
    }
    PyObject *pairs = PyDict_GetItemWithError(symbols, args[1]);
    if (pairs == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    if (!PyList_Check(pairs)) {
        PyErr_SetString(PyExc_TypeError, "expected a list of pairs");
        return NULL;
    }
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(pairs); k++) {
        PyObject *item = PyList_GET_ITEM(pairs, k);
        if (!PyObject_TypeCheck(item, &PairCoreType)) {
            PyErr_Format(PyExc_TypeError, "expected a PairCore, was %R", item);
            return NULL;
        }
        PairCore *pair = (PairCore *)item;
        if (!pair->dirty) {
            if (PyList_Append(self->dirty, item) < 0) return NULL;
            pair->dirty = 1;
        }
    }
    Py_RETURN_NONE;
}

/* Refresh every marked pair once, in marking order; [(pair, flags)] for those that report. */
static PyObject *DirtyPairs_refresh(DirtyPairs *self, PyObject *unused) {
    PyObject *dirty = self->dirty;
    PyObject *reports = PyList_New(0);
    if (reports == NULL) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(dirty);
    if (n == 0) return reports;
    PyObject *fresh = PyList_New(0);
    if (fresh == NULL) {
        Py_DECREF(reports);
        return NULL;
    }
    self->dirty = fresh; /* `dirty` is ours now */
    for (Py_ssize_t k = 0; k < n; k++) {
        PairCore *pair = (PairCore *)PyList_GET_ITEM(dirty, k);
        pair->dirty = 0;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *pair = PyList_GET_ITEM(dirty, k);
        PyObject *flags = PairCore_refresh((PairCore *)pair, NULL);
        if (flags == NULL) goto error;
        if (PyLong_AsLong(flags) != 0) {
            PyObject *report = PyTuple_Pack(2, pair, flags);
            if (report == NULL || PyList_Append(reports, report) < 0) {
                Py_XDECREF(report);
                Py_DECREF(flags);
                goto error;
            }
            Py_DECREF(report);
        }
        Py_DECREF(flags);
    }
    Py_DECREF(dirty);
    return reports;
error:
    Py_DECREF(dirty);
    Py_DECREF(reports);
    return NULL;
}

static PyMethodDef DirtyPairs_methods[] = {
    {"mark", (PyCFunction)(void (*)(void))DirtyPairs_mark, METH_FASTCALL,
     "mark(venue, symbol): the pairs reading that book need a refresh."},
    {"refresh", (PyCFunction)DirtyPairs_refresh, METH_NOARGS,
     "Refresh the marked pairs; [(pair, flags)] for each that reported a crossing."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject DirtyPairsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "arbiter.market._book.DirtyPairs",
    .tp_doc = "DirtyPairs(by_leg): the spread engine's dirty set; see arbiter.market.spread.",
    .tp_basicsize = sizeof(DirtyPairs),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = DirtyPairs_new,
    .tp_traverse = (traverseproc)DirtyPairs_traverse,
    .tp_clear = (inquiry)DirtyPairs_clear,
    .tp_dealloc = (destructor)DirtyPairs_dealloc,
    .tp_methods = DirtyPairs_methods,
};

static PyObject *py_parse_units(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "parse_units(text, scale)");
        return NULL;
    }
    int scale = PyLong_AsLong(args[1]);
    if (scale == -1 && PyErr_Occurred()) return NULL;
    if (scale < 0 || scale > 39) {
        PyErr_Format(PyExc_ValueError, "expected scale in [0, 39], was %d", scale);
        return NULL;
    }
    int64_t value = parse_units(args[0], scale);
    if (value < 0) Py_RETURN_NONE;
    return PyLong_FromLongLong(value);
}

static PyMethodDef module_methods[] = {
    {"parse_units", (PyCFunction)(void (*)(void))py_parse_units, METH_FASTCALL,
     "parse_units(text, scale) -> units, or None when the text is not a plain decimal on the "
     "grid that a book can hold."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef book_module = {
    PyModuleDef_HEAD_INIT, "arbiter.market._book", "L2 book storage in C.", -1, module_methods,
};

PyMODINIT_FUNC PyInit__book(void) {
    PyObject *module = PyModule_Create(&book_module);
    if (module == NULL) return NULL;
    if (PyModule_AddType(module, &BookCoreType) < 0 ||
        PyModule_AddType(module, &PairCoreType) < 0 ||
        PyModule_AddType(module, &DirtyPairsType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    static const struct {
        const char *name;
        long value;
    } flags[] = {{"NEED_BOOKS", NEED_BOOKS}, {"STALE", STALE},         {"ENTRY_ON", ENTRY_ON},
                 {"ENTRY_OFF", ENTRY_OFF},   {"ENTRY_THIN", ENTRY_THIN}, {"EXIT_ON", EXIT_ON},
                 {"EXIT_OFF", EXIT_OFF},     {"EXIT_THIN", EXIT_THIN}};
    for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++) {
        if (PyModule_AddIntConstant(module, flags[k].name, flags[k].value) < 0) {
            Py_DECREF(module);
            return NULL;
        }
    }
    if (PyModule_AddIntConstant(module, "UNITS_MAX", (long)UNITS_MAX) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
