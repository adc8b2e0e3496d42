/*
 * Compiled feature counting for the spam/smishing classifier (texts within Latin-1).
 *
 * `Scorer(chars, lexical, vocabulary).stats(text)` returns, for a normalised
 * text whose code points are all below 256, exactly what the pure-Python path
 * of aupguard.content.classifier computes from aupguard.content.features:
 *
 *   (sum of the weights of the distinct features, number of distinct features,
 *    number of word tokens that are letters only and longer than one,
 *    how many of those tokens are in the vocabulary)
 *
 * and None for any other text (the Python path scores those). Features are the
 * distinct character trigrams of " " + text + " " with the digits 1-9 folded to
 * 0, the distinct words of that text with ASCII punctuation turned into spaces
 * (split where str.split() splits), and the distinct pairs of neighbouring words
 * joined by a space. Weights are looked up by the exact UTF-8 bytes of a feature
 * (the hash only finds the slot), so the result equals the Python one up to the
 * order of the additions. tests/content/test_classifier.py checks the equality
 * on generated texts.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- tables */

/* Open addressing with the probe sequence in a compact array of 32-bit tags (0 = empty;
   otherwise the top half of the key's hash, never 0) so that probing touches little memory;
   the entry with the key's bytes is read only when a tag matches. */
typedef struct {
    uint32_t offset; /* into the arena */
    uint32_t length;
    double weight;
} Entry;

typedef struct {
    uint32_t *tags;
    Entry *entries;
    size_t mask;
    char *arena;
} Table;

static uint32_t
tag_of(uint64_t h)
{
    return (uint32_t)(h >> 32) | 1u;
}

static uint64_t
fnv1a(uint64_t h, const char *p, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

#define FNV_OFFSET 14695981039346656037ULL

static void
table_free(Table *t)
{
    PyMem_Free(t->tags);
    PyMem_Free(t->entries);
    PyMem_Free(t->arena);
    t->tags = NULL;
    t->entries = NULL;
    t->arena = NULL;
}

/* Fill a table from a dict {str: float} or, with weights == 0, any iterable of str. */
static int
table_build(Table *t, PyObject *source, int weights)
{
    PyObject *keys = weights ? PyDict_Keys(source) : PySequence_List(source);
    if (keys == NULL)
        return -1;
    Py_ssize_t n = PyList_GET_SIZE(keys), total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        if (!PyUnicode_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "feature names must be str");
            Py_DECREF(keys);
            return -1;
        }
        Py_ssize_t size;
        if (PyUnicode_AsUTF8AndSize(key, &size) == NULL) {
            Py_DECREF(keys);
            return -1;
        }
        total += size;
    }
    if (total > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "model too large");
        Py_DECREF(keys);
        return -1;
    }
    size_t capacity = 16;
    while (capacity < (size_t)n * 2 + 1)
        capacity <<= 1;
    t->tags = PyMem_Calloc(capacity, sizeof(uint32_t));
    t->entries = PyMem_Calloc(capacity, sizeof(Entry));
    t->arena = PyMem_Malloc((size_t)total + 1);
    if (t->tags == NULL || t->entries == NULL || t->arena == NULL) {
        table_free(t);
        Py_DECREF(keys);
        PyErr_NoMemory();
        return -1;
    }
    t->mask = capacity - 1;
    Py_ssize_t used = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        Py_ssize_t size;
        const char *bytes = PyUnicode_AsUTF8AndSize(key, &size);
        double weight = 0.0;
        if (weights) {
            weight = PyFloat_AsDouble(PyDict_GetItem(source, key));
            if (weight == -1.0 && PyErr_Occurred()) {
                table_free(t);
                Py_DECREF(keys);
                return -1;
            }
        }
        uint64_t h = fnv1a(FNV_OFFSET, bytes, size);
        size_t at = (size_t)h & t->mask;
        while (t->tags[at] != 0)
            at = (at + 1) & t->mask;
        memcpy(t->arena + used, bytes, (size_t)size);
        t->tags[at] = tag_of(h);
        t->entries[at] = (Entry){(uint32_t)used, (uint32_t)size, weight};
        used += size;
    }
    Py_DECREF(keys);
    return 0;
}

/* The entry holding these bytes, or NULL. */
static const Entry *
table_find(const Table *t, uint64_t h, const char *p, Py_ssize_t n)
{
    uint32_t tag = tag_of(h);
    for (size_t at = (size_t)h & t->mask; t->tags[at] != 0; at = (at + 1) & t->mask) {
        if (t->tags[at] != tag)
            continue;
        const Entry *e = &t->entries[at];
        if (e->length == (uint32_t)n && memcmp(t->arena + e->offset, p, (size_t)n) == 0)
            return e;
    }
    return NULL;
}

/* --------------------------------------------------------- one message */

typedef struct {
    const char *start; /* a word, or the first word of a pair */
    Py_ssize_t length; /* bytes, the joining space of a pair included */
    uint64_t hash;
} Feature;

/* Character classes of Latin-1 code points (the texts this module counts), filled once by
   the module's init from Python's own predicates, so words split and letters count exactly
   as str.split() and str.isalpha() do. */
enum { SPACE = 1, PUNCT = 2, ALPHA = 4 };
static unsigned char classes[256];

static void
classes_init(void)
{
    const char *punct = "!\"#'()*+,-/:;<=>?@[\\]^_`{|}~.&"; /* features.py's _PUNCT_CHARS */
    for (Py_UCS4 c = 0; c < 256; c++) {
        if (Py_UNICODE_ISSPACE(c))
            classes[c] |= SPACE;
        if (Py_UNICODE_ISALPHA(c))
            classes[c] |= ALPHA;
    }
    for (const char *p = punct; *p; p++)
        classes[(unsigned char)*p] |= PUNCT;
}

static size_t
power_of_two_above(size_t n)
{
    size_t size = 16;
    while (size < n)
        size <<= 1;
    return size;
}

typedef struct {
    PyObject_HEAD
    Table chars;
    Table lexical;
    Table vocabulary;
} Scorer;

/* A text held twice: as Latin-1 code points (one byte each: what classes and distinct
   trigrams are computed on) and as UTF-8 (what the model's feature names are). `off[i]` is
   where code point i starts in the UTF-8 copy; NULL when the text is ASCII (the two agree). */
typedef struct {
    const unsigned char *codes;
    const char *utf8;
    const Py_ssize_t *off;
} View;

static Py_ssize_t
at_utf8(const View *v, Py_ssize_t i)
{
    return v->off == NULL ? i : v->off[i];
}

/* Sum of the weights of the distinct trigrams of a view of n code points, their number in
   *count. `seen` is a zeroed set of `mask + 1` slots; a key is stored with bit 24 set, so 0
   is empty. */
static double
trigram_sum(const Scorer *self, const View *v, Py_ssize_t n, uint32_t *seen, size_t mask,
            Py_ssize_t *count)
{
    Py_ssize_t distinct = 0;
    double sum = 0.0;
    const unsigned char *p = v->codes;
    for (Py_ssize_t i = 0; i + 2 < n; i++) {
        uint32_t key = (1u << 24) | ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) |
                       (uint32_t)p[i + 2];
        size_t at = (size_t)(key * 2654435761u) & mask;
        while (seen[at] != 0 && seen[at] != key)
            at = (at + 1) & mask;
        if (seen[at] == key)
            continue;
        seen[at] = key;
        distinct++;
        Py_ssize_t from = at_utf8(v, i), length = at_utf8(v, i + 3) - from;
        const char *gram = v->utf8 + from;
        const Entry *s = table_find(&self->chars, fnv1a(FNV_OFFSET, gram, length), gram, length);
        if (s != NULL)
            sum += s->weight;
    }
    *count = distinct;
    return sum;
}

/* Add a lexical feature to the open-addressing set `seen` unless it is there; 1 if added. */
static int
remember(Feature *seen, size_t mask, const Feature *f)
{
    size_t at = (size_t)f->hash & mask;
    while (seen[at].start != NULL) {
        if (seen[at].hash == f->hash && seen[at].length == f->length &&
            memcmp(seen[at].start, f->start, (size_t)f->length) == 0)
            return 0;
        at = (at + 1) & mask;
    }
    seen[at] = *f;
    return 1;
}

/* Count a lexical feature once: add its weight and 1 to the totals unless already seen. */
static void
count_lexical(const Scorer *self, Feature *seen, size_t mask, const Feature *f, double *sum,
              Py_ssize_t *features)
{
    if (remember(seen, mask, f)) {
        (*features)++;
        const Entry *s = table_find(&self->lexical, f->hash, f->start, f->length);
        if (s != NULL)
            *sum += s->weight;
    }
}

enum { STACK_BYTES = 32768 };

/* Write code point c (< 256) as UTF-8 at out; the number of bytes. */
static Py_ssize_t
put_utf8(char *out, unsigned char c)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    out[0] = (char)(0xC0 | (c >> 6));
    out[1] = (char)(0x80 | (c & 0x3F));
    return 2;
}

static PyObject *
Scorer_stats(Scorer *self, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be str");
        return NULL;
    }
    if (self->chars.tags == NULL || self->lexical.tags == NULL || self->vocabulary.tags == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Scorer was not initialised");
        return NULL;
    }
    if (PyUnicode_KIND(text) != PyUnicode_1BYTE_KIND)
        Py_RETURN_NONE; /* beyond Latin-1: the Python path */
    int ascii = PyUnicode_IS_ASCII(text);
    Py_ssize_t size = PyUnicode_GET_LENGTH(text);
    const Py_UCS1 *raw = PyUnicode_1BYTE_DATA(text);
    Py_ssize_t n = size + 2;
    /* words are separated by at least one space and the text is padded with one each side */
    size_t words_max = (size_t)n / 2 + 1;
    size_t grams_size = power_of_two_above((size_t)n * 2);
    size_t lexical_size = power_of_two_above(words_max * 4);
    /* one block: the prepared text and its copy without punctuation, as code points (n each)
       and as UTF-8 (2n each), the word pairs (5n), the UTF-8 offsets, the trigram set, the
       word bounds and the lexical set */
    size_t off_at = ((size_t)n * 11 + 7) & ~(size_t)7;
    size_t grams_at = off_at + sizeof(Py_ssize_t) * ((size_t)n + 1);
    size_t words_at = (grams_at + sizeof(uint32_t) * grams_size + 7) & ~(size_t)7;
    size_t lexical_at = words_at + sizeof(Feature) * words_max;
    size_t total = lexical_at + sizeof(Feature) * lexical_size;
    _Alignas(Feature) char stack[STACK_BYTES]; /* enough for a few SMS segments */
    char *block = stack;
    if (total > sizeof(stack)) {
        block = PyMem_Malloc(total);
        if (block == NULL)
            return PyErr_NoMemory();
    }
    unsigned char *prepared = (unsigned char *)block, *plain = prepared + n;
    char *prepared8 = block + 2 * n, *plain8 = block + 4 * n, *pairs = block + 6 * n;
    Py_ssize_t *off = (Py_ssize_t *)(block + off_at);
    uint32_t *grams = (uint32_t *)(block + grams_at);
    Feature *words = (Feature *)(block + words_at), *seen = (Feature *)(block + lexical_at);
    memset(grams, 0, sizeof(uint32_t) * grams_size);

    prepared[0] = plain[0] = ' ';
    prepared[n - 1] = plain[n - 1] = ' ';
    for (Py_ssize_t i = 0; i < size; i++) {
        unsigned char c = raw[i];
        if (c >= '1' && c <= '9')
            c = '0';
        prepared[i + 1] = c;
        plain[i + 1] = (classes[c] & PUNCT) ? ' ' : c;
    }
    View full = {prepared, (const char *)prepared, NULL};
    View bare = {plain, (const char *)plain, NULL};
    if (!ascii) {
        Py_ssize_t used = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            off[i] = used;
            put_utf8(plain8 + used, plain[i]);
            used += put_utf8(prepared8 + used, prepared[i]);
        }
        off[n] = used;
        full = (View){prepared, prepared8, off};
        bare = (View){plain, plain8, off};
    }

    Py_ssize_t features;
    double sum = trigram_sum(self, &full, n, grams, grams_size - 1, &features);

    Py_ssize_t count = 0, tokens = 0, known = 0;
    for (Py_ssize_t i = 0; i < n;) {
        while (i < n && (classes[plain[i]] & SPACE))
            i++;
        if (i >= n)
            break;
        Py_ssize_t start = i;
        unsigned char alpha = ALPHA;
        while (i < n && !(classes[plain[i]] & SPACE)) {
            alpha &= classes[plain[i]];
            i++;
        }
        Feature *w = &words[count++];
        w->start = bare.utf8 + at_utf8(&bare, start);
        w->length = at_utf8(&bare, i) - at_utf8(&bare, start);
        w->hash = fnv1a(FNV_OFFSET, w->start, w->length);
        if (alpha && i - start > 1) {
            tokens++;
            known += table_find(&self->vocabulary, w->hash, w->start, w->length) != NULL;
        }
    }
    /* words and pairs: at most 2 * count features, so the set stays at most half full */
    size_t mask = power_of_two_above((size_t)count * 4) - 1;
    memset(seen, 0, sizeof(Feature) * (mask + 1));
    for (Py_ssize_t i = 0; i < count; i++)
        count_lexical(self, seen, mask, &words[i], &sum, &features);
    char *out = pairs;
    for (Py_ssize_t i = 0; i + 1 < count; i++) {
        const Feature *a = &words[i], *b = &words[i + 1];
        Feature pair = {out, a->length + 1 + b->length, 0};
        memcpy(out, a->start, (size_t)a->length);
        out[a->length] = ' ';
        memcpy(out + a->length + 1, b->start, (size_t)b->length);
        out += pair.length;
        pair.hash = fnv1a(FNV_OFFSET, pair.start, pair.length);
        count_lexical(self, seen, mask, &pair, &sum, &features);
    }
    if (block != stack)
        PyMem_Free(block);
    return Py_BuildValue("(dnnn)", sum, features, tokens, known);
}

/* --------------------------------------------------------------- the type */

static int
Scorer_init(Scorer *self, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"chars", "lexical", "vocabulary", NULL};
    PyObject *chars, *lexical, *vocabulary;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!O", names, &PyDict_Type, &chars,
                                     &PyDict_Type, &lexical, &vocabulary))
        return -1;
    table_free(&self->chars);
    table_free(&self->lexical);
    table_free(&self->vocabulary);
    if (table_build(&self->chars, chars, 1) < 0 || table_build(&self->lexical, lexical, 1) < 0 ||
        table_build(&self->vocabulary, vocabulary, 0) < 0)
        return -1;
    return 0;
}

static void
Scorer_dealloc(Scorer *self)
{
    table_free(&self->chars);
    table_free(&self->lexical);
    table_free(&self->vocabulary);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Scorer_methods[] = {
    {"stats", (PyCFunction)Scorer_stats, METH_O,
     "stats(text) -> (weight sum, distinct features, tokens, known tokens), or None beyond "
     "Latin-1"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScorerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "aupguard.content._scorer.Scorer",
    .tp_basicsize = sizeof(Scorer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Feature counting of the linear spam model for texts within Latin-1.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scorer_init,
    .tp_dealloc = (destructor)Scorer_dealloc,
    .tp_methods = Scorer_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scorer", "Compiled feature counting for the spam classifier.", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__scorer(void)
{
    classes_init();
    if (PyType_Ready(&ScorerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&ScorerType);
    if (PyModule_AddObject(m, "Scorer", (PyObject *)&ScorerType) < 0) {
        Py_DECREF(&ScorerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
