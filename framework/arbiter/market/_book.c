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
static inline int64_t parse_units(PyObject *text, int scale) {
    if (!PyUnicode_Check(text)) return -1;
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(text, &len);
    if (s == NULL) {
        PyErr_Clear();
        return -1;
    }
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

/* Text levels into `levels` and a list of (price units, size units) tuples; 0 applied, 1 when a
 * text is not a plain decimal on the grid (nothing built), -1 on error. */
static int levels_from_texts(PyObject *texts, int is_bid, int price_scale, int size_scale,
                             Level **levels, Level *stack, Py_ssize_t *count, PyObject **out) {
    *levels = stack;
    *out = NULL;
    if (!PyList_CheckExact(texts)) return 1;
    Py_ssize_t n = PyList_GET_SIZE(texts);
    *count = n;
    if (n > STACK_LEVELS) {
        *levels = PyMem_Malloc((size_t)n * sizeof(Level));
        if (*levels == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *item = PyList_GET_ITEM(texts, k);
        PyObject *price_text, *size_text;
        if (PyTuple_CheckExact(item) && PyTuple_GET_SIZE(item) >= 2) {
            price_text = PyTuple_GET_ITEM(item, 0);
            size_text = PyTuple_GET_ITEM(item, 1);
        } else if (PyList_CheckExact(item) && PyList_GET_SIZE(item) >= 2) {
            price_text = PyList_GET_ITEM(item, 0);
            size_text = PyList_GET_ITEM(item, 1);
        } else {
            return 1;
        }
        int64_t price = parse_units(price_text, price_scale);
        int64_t size = parse_units(size_text, size_scale);
        if (price < 0 || size < 0) return 1;
        (*levels)[k].key = is_bid ? price : -price;
        (*levels)[k].size = size;
    }
    PyObject *list = PyList_New(n);
    if (list == NULL) return -1;
    for (Py_ssize_t k = 0; k < n; k++) {
        int64_t key = (*levels)[k].key;
        PyObject *level = Py_BuildValue("(LL)", (long long)(is_bid ? key : -key),
                                        (long long)(*levels)[k].size);
        if (level == NULL) {
            Py_DECREF(list);
            return -1;
        }
        PyList_SET_ITEM(list, k, level);
    }
    *out = list;
    return 0;
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
    return (PyObject *)self;
}

static int BookCore_init(BookCore *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"price_scale", "size_scale", NULL};
    int price_scale, size_scale;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "ii", kwlist, &price_scale, &size_scale))
        return -1;
    if (price_scale < 0 || price_scale > 38 || size_scale < 0 || size_scale > 38) {
        PyErr_Format(PyExc_ValueError, "expected scales in [0, 38], was %d and %d", price_scale,
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

static PyObject *BookCore_reset_levels(BookCore *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_reset_levels(bids, asks, ts_ms)");
        return NULL;
    }
    long long ts = PyLong_AsLongLong(args[2]);
    if (ts == -1 && PyErr_Occurred()) return NULL;
    Level bid_stack[STACK_LEVELS], ask_stack[STACK_LEVELS];
    Level *bids = NULL, *asks = NULL;
    Py_ssize_t nb = levels_from_objects(args[0], 1, &bids, bid_stack);
    if (nb < 0) return NULL;
    Py_ssize_t na = levels_from_objects(args[1], 0, &asks, ask_stack);
    if (na < 0) {
        if (bids != bid_stack) PyMem_Free(bids);
        return NULL;
    }
    self->bid.n = 0;
    self->ask.n = 0;
    int failed = side_apply(&self->bid, bids, nb) < 0 || side_apply(&self->ask, asks, na) < 0;
    if (bids != bid_stack) PyMem_Free(bids);
    if (asks != ask_stack) PyMem_Free(asks);
    if (failed) return NULL;
    self->bid.epoch++;
    self->ask.epoch++;
    self->bid.bound = KEY_NONE;
    self->ask.bound = KEY_NONE;
    self->updated_ms = ts;
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
    Level bid_stack[STACK_LEVELS], ask_stack[STACK_LEVELS];
    Level *bids = NULL, *asks = NULL;
    Py_ssize_t nb = levels_from_objects(args[0], 1, &bids, bid_stack);
    if (nb < 0) return NULL;
    Py_ssize_t na = levels_from_objects(args[1], 0, &asks, ask_stack);
    if (na < 0) {
        if (bids != bid_stack) PyMem_Free(bids);
        return NULL;
    }
    int failed = side_apply(&self->bid, bids, nb) < 0 || side_apply(&self->ask, asks, na) < 0;
    if (bids != bid_stack) PyMem_Free(bids);
    if (asks != ask_stack) PyMem_Free(asks);
    if (failed) return NULL;
    self->updated_ms = ts;
    return PyBool_FromLong(is_crossed(self));
}

static PyObject *BookCore_apply_text(BookCore *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "apply_text(bids, asks, ts_ms)");
        return NULL;
    }
    long long ts = PyLong_AsLongLong(args[2]);
    if (ts == -1 && PyErr_Occurred()) return NULL;
    Level bid_stack[STACK_LEVELS], ask_stack[STACK_LEVELS];
    Level *bids = NULL, *asks = NULL;
    Py_ssize_t nb = 0, na = 0;
    PyObject *bid_list = NULL, *ask_list = NULL, *result = NULL;
    int status = levels_from_texts(args[0], 1, self->price_scale, self->size_scale, &bids,
                                   bid_stack, &nb, &bid_list);
    if (status == 0)
        status = levels_from_texts(args[1], 0, self->price_scale, self->size_scale, &asks,
                                   ask_stack, &na, &ask_list);
    if (status == 0) {
        if (side_apply(&self->bid, bids, nb) < 0 || side_apply(&self->ask, asks, na) < 0) {
            status = -1;
        } else {
            self->updated_ms = ts;
            result = PyTuple_New(3);
            if (result == NULL) {
                status = -1;
            } else {
                PyTuple_SET_ITEM(result, 0, bid_list);
                PyTuple_SET_ITEM(result, 1, ask_list);
                PyTuple_SET_ITEM(result, 2, PyBool_FromLong(is_crossed(self)));
                bid_list = ask_list = NULL;
            }
        }
    }
    if (bids != NULL && bids != bid_stack) PyMem_Free(bids);
    if (asks != NULL && asks != ask_stack) PyMem_Free(asks);
    Py_XDECREF(bid_list);
    Py_XDECREF(ask_list);
    if (status < 0) return NULL;
    if (status > 0) Py_RETURN_NONE;
    return result;
}

static PyObject *level_tuple(int64_t key, int64_t size, int is_bid) {
    return Py_BuildValue("(LL)", (long long)(is_bid ? key : -key), (long long)size);
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

/* Take `size` units from one side, best level first: the exact sum of price x size, or None
 * when the side holds less. Records how deep the walk went (see the top of this file). The sum
 * is below UNITS_MAX * UNITS_MAX < 2**126 (every price and the size are at most UNITS_MAX), so
 * 128 bits hold it exactly. */
static PyObject *take(SideLevels *side, PyObject *size_obj, int is_bid) {
    int overflow = 0;
    long long wanted = PyLong_AsLongLongAndOverflow(size_obj, &overflow);
    if (wanted == -1 && PyErr_Occurred()) return NULL;
    if (overflow || wanted > UNITS_MAX) {
        PyErr_Format(PyExc_OverflowError, "expected a size of at most %lld units, was %R",
                     (long long)UNITS_MAX, size_obj);
        return NULL;
    }
    int64_t remaining = wanted;
    __int128 cost = 0;
    for (Py_ssize_t i = side->n - 1; i >= 0; i--) {
        int64_t key = side->keys[i];
        __int128 price = is_bid ? key : -(__int128)key;
        int64_t available = side->sizes[i];
        if (available >= remaining) {
            if (key < side->bound) side->bound = key;
            return int_from_i128(cost + price * remaining);
        }
        cost += price * available;
        remaining -= available;
    }
    side->bound = KEY_ALL;
    Py_RETURN_NONE;
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
    {"apply_text", (PyCFunction)(void (*)(void))BookCore_apply_text, METH_FASTCALL,
     "apply_text(bids, asks, ts_ms) -> (bids, asks, crossed) | None: levels as venue texts."},
    {"_reset_levels", (PyCFunction)(void (*)(void))BookCore_reset_levels, METH_FASTCALL,
     "Replace both sides' levels."},
    {"best_bid", (PyCFunction)BookCore_best_bid, METH_NOARGS, "(price, size) or None."},
    {"best_ask", (PyCFunction)BookCore_best_ask, METH_NOARGS, "(price, size) or None."},
    {"is_crossed", (PyCFunction)BookCore_is_crossed, METH_NOARGS, "best bid >= best ask."},
    {"_depth_of", (PyCFunction)(void (*)(void))BookCore_depth_of, METH_FASTCALL,
     "_depth_of(is_bid, levels) -> best levels first."},
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

static PyObject *py_parse_units(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "parse_units(text, scale)");
        return NULL;
    }
    int scale = PyLong_AsLong(args[1]);
    if (scale == -1 && PyErr_Occurred()) return NULL;
    if (scale < 0 || scale > 38) {
        PyErr_Format(PyExc_ValueError, "expected scale in [0, 38], was %d", scale);
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
    if (PyType_Ready(&BookCoreType) < 0) return NULL;
    PyObject *module = PyModule_Create(&book_module);
    if (module == NULL) return NULL;
    Py_INCREF(&BookCoreType);
    if (PyModule_AddObject(module, "BookCore", (PyObject *)&BookCoreType) < 0) {
        Py_DECREF(&BookCoreType);
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddIntConstant(module, "UNITS_MAX", (long)UNITS_MAX) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
