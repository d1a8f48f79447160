// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The stack tree behind every flamegraph writer. A million samples of twenty frames make
 * twenty million lookups, many of them of nodes no cache holds, so an add touches as little
 * memory as it can, and waits for it all at once:
 *  - the frames a stack shares with the previous one are recognised by comparing strings,
 *    and their nodes reused; the others are interned by (func, file, line) in a small table
 *    that stays in cache;
 *  - a node is found in one table keyed by the hash of its whole path, which is known for
 *    every depth before any lookup, so the slots of a stack are prefetched together instead
 *    of missing the cache one after the other; a slot holds its key (parent, frame), so a
 *    probe reads no node;
 *  - only the leaf is written: totals and dominant causes are summed once, before a walk.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "flame.h"

#define NONE UINT32_MAX
#define ARENA_CHUNK (64 * 1024)

struct node {
	uint32_t parent;
	uint32_t frame;		/* index in frames */
	uint32_t cause;		/* of the first weight that ended here, NONE */
	uint32_t more;		/* weight of other causes that ended here: list in cws, NONE */
	double first;		/* weight of cause that ended here */
	double total;		/* summed by prepare() */
};

/* A slot of the node table, where the hash of its path puts it. */
struct edge {
	uint32_t parent;
	uint32_t frame;
	uint32_t node;		/* 0, the root, is no one's child: empty */
	uint32_t hash;		/* of the path, for growing */
};

struct cause_weight {
	double weight;
	uint32_t next;
	uint32_t cause;
};

struct chunk {
	struct chunk *next;
	size_t used, size;
	char data[];
};

/* An open-addressing set of uint32_t indices; the owner hashes and compares. */
struct table {
	uint32_t *slot;
	uint32_t mask;		/* size - 1, size a power of two */
	uint32_t used;
};

struct flame {
	char *title;
	char *unit;
	bool counts;
	double min_width;

	struct chunk *arena;
	struct str {
		const char *s;
		uint64_t hash;
	} *strs;		/* interned strings, by their table index */
	uint32_t nstrs, cap_strs;
	struct table str_tab;

	struct flame_frame *frames;
	uint64_t *frame_hash;
	uint32_t nframes, cap_frames, cap_frame_hash;
	struct table frame_tab;

	struct node *nodes;	/* nodes[0] is the root, above every stack */
	uint32_t nnodes, cap_nodes;
	struct edge *edges;
	uint32_t edge_mask;
	double total;

	struct cause_weight *cws;
	uint32_t ncws, cap_cws;

	const char *causes[FLAME_MAX_CAUSES];
	uint32_t ncauses;
	int max_depth;

	/* the last stack added, depth by depth: the next one mostly starts the same way */
	struct last {
		uint32_t frame, node;
		uint64_t path;
	} last[FLAME_MAX_DEPTH];
	int nlast;

	/* built by prepare() for walks, dropped by the next add */
	bool ready;
	uint32_t *kids;		/* children of every node, sorted, node by node */
	uint32_t *kid_off;	/* node's children are kids[kid_off[i] .. kid_off[i + 1]) */
	uint8_t *dominant;	/* cause with the most weight under each node */
	uint32_t *rank;		/* of each frame in label order: what writers see as its id */
	struct flame_frame *sorted;	/* frames in label order, so output ignores add order */
};

static inline uint64_t mix(uint64_t x)
{
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 31);
}

/* Eight bytes per multiply: every frame a stack does not share with the last is hashed. */
static uint64_t hash_str(const char *s)
{
	size_t n;
	uint64_t h, w;

	if (!s)
		return 0x5bd1e9955bd1e995ULL;
	n = strlen(s);
	h = 0x9e3779b97f4a7c15ULL ^ n;
	for (; n >= 8; n -= 8, s += 8) {
		memcpy(&w, s, 8);
		h = mix(h ^ w);
	}
	w = 0;
	memcpy(&w, s, n);
	return mix(h ^ w) ^ (h >> 29);
}

static inline uint64_t hash_frame(uint64_t hfunc, uint64_t hfile, unsigned line)
{
	return mix(hfunc ^ ((hfile << 21) | (hfile >> 43)) ^ (line * 0x94d049bb133111ebULL));
}

/* The path's hash from its parent's and its last frame. */
static inline uint64_t hash_path(uint64_t parent, uint32_t frame)
{
	uint64_t h = parent ^ ((uint64_t)frame * 0x9e3779b97f4a7c15ULL);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return a == b || strcmp(a, b) == 0;
}

static int table__init(struct table *t, uint32_t size)
{
	t->slot = malloc(size * sizeof(*t->slot));
	if (!t->slot)
		return -ENOMEM;
	memset(t->slot, 0xff, size * sizeof(*t->slot));
	t->mask = size - 1;
	t->used = 0;
	return 0;
}

/* Doubles the table once it is half full; hash_of gives an entry's hash back. */
static int table__grow(struct table *t, uint32_t (*hash_of)(const struct flame *, uint32_t),
		       const struct flame *f)
{
	struct table n;
	uint32_t i, j;
	int err;

	if ((t->used + 1) * 2 <= t->mask + 1)
		return 0;
	if (t->mask >= (1u << 30))
		return -ENOMEM;
	err = table__init(&n, (t->mask + 1) * 2);
	if (err)
		return err;
	for (i = 0; i <= t->mask; i++) {
		if (t->slot[i] == NONE)
			continue;
		for (j = hash_of(f, t->slot[i]) & n.mask; n.slot[j] != NONE; j = (j + 1) & n.mask)
			;
		n.slot[j] = t->slot[i];
	}
	n.used = t->used;
	free(t->slot);
	*t = n;
	return 0;
}

static uint32_t str_hash_of(const struct flame *f, uint32_t i) { return f->strs[i].hash; }
static uint32_t frame_hash_of(const struct flame *f, uint32_t i) { return f->frame_hash[i]; }

/* Node 0 marks an empty slot: a large calloc is fresh zero pages, with no pass to fill. */
static int edges__init(struct flame *f, uint32_t size)
{
	f->edges = calloc(size, sizeof(*f->edges));
	if (!f->edges)
		return -ENOMEM;
	f->edge_mask = size - 1;
	return 0;
}

/* Doubles the node table once it is half full: nnodes - 1 edges, the root has none. */
static int edges__grow(struct flame *f)
{
	struct edge *old = f->edges;
	uint32_t size = f->edge_mask + 1, i, j;
	int err;

	if ((size_t)f->nnodes * 2 <= size)
		return 0;
	if (size >= (1u << 30))
		return -ENOMEM;
	err = edges__init(f, size * 2);
	if (err) {
		f->edges = old;
		f->edge_mask = size - 1;
		return err;
	}
	for (i = 0; i < size; i++) {
		if (!old[i].node)
			continue;
		for (j = old[i].hash & f->edge_mask; f->edges[j].node; j = (j + 1) & f->edge_mask)
			;
		f->edges[j] = old[i];
	}
	free(old);
	return 0;
}

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
	uint32_t n = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need) {
		if (n >= (1u << 30))
			return -ENOMEM;
		n *= 2;
	}
	p = realloc(*arr, (size_t)n * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = n;
	return 0;
}

static char *arena__copy(struct flame *f, const char *s)
{
	size_t len = strlen(s) + 1;
	struct chunk *c = f->arena;

	if (!c || c->size - c->used < len) {
		size_t size = len > ARENA_CHUNK / 4 ? len : ARENA_CHUNK;

		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->used = 0;
		/* an oversized string gets a chunk of its own behind the current one */
		if (f->arena && size != ARENA_CHUNK) {
			c->next = f->arena->next;
			f->arena->next = c;
		} else {
			c->next = f->arena;
			f->arena = c;
		}
	}
	memcpy(c->data + c->used, s, len);
	c->used += len;
	return c->data + c->used - len;
}

/* The one stored copy of s: equal strings intern to the same pointer. */
static const char *intern(struct flame *f, const char *s, uint64_t h)
{
	uint32_t i;
	char *copy;

	if (!s)
		return NULL;
	for (i = h & f->str_tab.mask; f->str_tab.slot[i] != NONE; i = (i + 1) & f->str_tab.mask) {
		uint32_t k = f->str_tab.slot[i];

		if (f->strs[k].hash == h && strcmp(f->strs[k].s, s) == 0)
			return f->strs[k].s;
	}
	if (grow((void **)&f->strs, &f->cap_strs, f->nstrs + 1, sizeof(*f->strs)))
		return NULL;
	copy = arena__copy(f, s);
	if (!copy)
		return NULL;
	f->strs[f->nstrs] = (struct str){ .s = copy, .hash = h };
	f->str_tab.slot[i] = f->nstrs++;
	f->str_tab.used++;
	if (table__grow(&f->str_tab, str_hash_of, f))
		return NULL;
	return copy;
}

static int frame_id(struct flame *f, const char *func, uint64_t hfunc, const char *file,
		    uint64_t hfile, unsigned line, uint64_t h, uint32_t *id)
{
	struct flame_frame *fr;
	uint32_t i;

	for (i = h & f->frame_tab.mask; f->frame_tab.slot[i] != NONE;
	     i = (i + 1) & f->frame_tab.mask) {
		uint32_t k = f->frame_tab.slot[i];

		fr = &f->frames[k];
		if (f->frame_hash[k] == h && fr->line == line && str_eq(fr->func, func) &&
		    str_eq(fr->file, file)) {
			*id = k;
			return 0;
		}
	}
	if (grow((void **)&f->frames, &f->cap_frames, f->nframes + 1, sizeof(*f->frames)) ||
	    grow((void **)&f->frame_hash, &f->cap_frame_hash, f->nframes + 1,
		 sizeof(*f->frame_hash)))
		return -ENOMEM;
	fr = &f->frames[f->nframes];
	fr->func = intern(f, func, hfunc);
	fr->file = intern(f, file, hfile);
	fr->line = line;
	if (!fr->func || (file && !fr->file))
		return -ENOMEM;
	f->frame_hash[f->nframes] = h;
	f->frame_tab.slot[i] = *id = f->nframes++;
	f->frame_tab.used++;
	return table__grow(&f->frame_tab, frame_hash_of, f);
}

static int intern_frame(struct flame *f, const char *func, const char *file, unsigned line,
			uint32_t *id)
{
	uint64_t hfunc = hash_str(func), hfile = hash_str(file);

	return frame_id(f, func, hfunc, file, hfile, line, hash_frame(hfunc, hfile, line), id);
}

/* The child of parent for frame fid, whose path hashes to h; made if it is new. */
static int child(struct flame *f, uint32_t parent, uint32_t fid, uint64_t h, uint32_t *out)
{
	struct edge *e;
	uint32_t i;
	int err;

	for (i = h & f->edge_mask; f->edges[i].node; i = (i + 1) & f->edge_mask) {
		e = &f->edges[i];
		if (e->parent == parent && e->frame == fid) {
			*out = e->node;
			return 0;
		}
	}
	err = grow((void **)&f->nodes, &f->cap_nodes, f->nnodes + 1, sizeof(*f->nodes));
	if (err)
		return err;
	/* children are listed by prepare(): writing the parent here would be one more miss */
	f->nodes[f->nnodes] = (struct node){ .parent = parent, .frame = fid, .cause = NONE,
					     .more = NONE };
	f->edges[i] = (struct edge){ .parent = parent, .frame = fid, .node = f->nnodes,
				     .hash = (uint32_t)h };
	*out = f->nnodes++;
	return edges__grow(f);
}

static int cause_id(struct flame *f, const char *cause, uint32_t *id)
{
	uint32_t i;

	if (!cause)
		cause = "other";
	for (i = 0; i < f->ncauses; i++) {
		if (strcmp(f->causes[i], cause) == 0) {
			*id = i;
			return 0;
		}
	}
	if (f->ncauses >= FLAME_MAX_CAUSES - 1 && strcmp(cause, "other") != 0)
		return cause_id(f, "other", id);
	f->causes[f->ncauses] = intern(f, cause, hash_str(cause));
	if (!f->causes[f->ncauses])
		return -ENOMEM;
	*id = f->ncauses++;
	return 0;
}

/* Most frames end stacks of one cause only: that one is kept in the node, the rest aside. */
static int add_self(struct flame *f, uint32_t node, uint32_t cause, double w)
{
	struct node *n = &f->nodes[node];
	uint32_t *link = &n->more;
	int err;

	if (n->cause == NONE || n->cause == cause) {
		n->cause = cause;
		n->first += w;
		return 0;
	}
	for (; *link != NONE; link = &f->cws[*link].next) {
		if (f->cws[*link].cause == cause) {
			f->cws[*link].weight += w;
			return 0;
		}
	}
	/* link may move with the array: find the tail again after growing */
	err = grow((void **)&f->cws, &f->cap_cws, f->ncws + 1, sizeof(*f->cws));
	if (err)
		return err;
	f->cws[f->ncws] = (struct cause_weight){ .weight = w, .next = NONE, .cause = cause };
	for (link = &f->nodes[node].more; *link != NONE; link = &f->cws[*link].next)
		;
	*link = f->ncws++;
	return 0;
}

struct flame *flame__new(const char *title, const char *unit)
{
	struct flame *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->title = strdup(title ? title : "");
	f->unit = strdup(unit ? unit : "samples");
	f->counts = f->unit && strcmp(f->unit, "samples") == 0;
	f->min_width = 0.001;
	f->nnodes = 1;
	if (!f->title || !f->unit || table__init(&f->str_tab, 1024) ||
	    table__init(&f->frame_tab, 1024) || edges__init(f, 4096) ||
	    grow((void **)&f->nodes, &f->cap_nodes, 1, sizeof(*f->nodes))) {
		flame__free(f);
		return NULL;
	}
	f->nodes[0] = (struct node){ .parent = NONE, .frame = NONE, .cause = NONE, .more = NONE };
	return f;
}

static void unprepare(struct flame *f)
{
	free(f->kids);
	free(f->kid_off);
	free(f->dominant);
	free(f->rank);
	free(f->sorted);
	f->kids = f->kid_off = f->rank = NULL;
	f->dominant = NULL;
	f->sorted = NULL;
	f->ready = false;
}

void flame__free(struct flame *f)
{
	struct chunk *c, *next;

	if (!f)
		return;
	unprepare(f);
	for (c = f->arena; c; c = next) {
		next = c->next;
		free(c);
	}
	free(f->str_tab.slot);
	free(f->frame_tab.slot);
	free(f->edges);
	free(f->strs);
	free(f->frames);
	free(f->frame_hash);
	free(f->nodes);
	free(f->cws);
	free(f->title);
	free(f->unit);
	free(f);
}

static bool frame_is(const struct flame_frame *fr, const char *func, const char *file,
		     unsigned line)
{
	return fr->line == line && str_eq(fr->func, func) && str_eq(fr->file, file);
}

int flame__add(struct flame *f, const char *root, const struct flame_frame *frames, int n,
	       const char *cause, double weight)
{
	uint32_t fids[FLAME_MAX_DEPTH], node = 0, cid;
	uint64_t paths[FLAME_MAX_DEPTH], h = 0;
	int depth = root ? 1 : 0, known = 0, i, err;
	bool same = true;

	if (n < 0 || (n > 0 && !frames) || (n == 0 && !root) || !(weight >= 0) || isinf(weight))
		return -EINVAL;
	if (n + depth > FLAME_MAX_DEPTH)
		return -E2BIG;
	if (weight == 0)
		return 0;
	err = cause_id(f, cause, &cid);
	if (err)
		return err;
	if (f->ready)
		unprepare(f);
	depth += n;
	for (i = 0; i < depth; i++) {
		struct flame_frame fr = { .func = root };

		if (!root || i)
			fr = frames[root ? i - 1 : i];
		if (!fr.func)
			fr.func = "?";
		if (same && i < f->nlast &&
		    frame_is(&f->frames[f->last[i].frame], fr.func, fr.file, fr.line)) {
			fids[i] = f->last[i].frame;
			known++;
			continue;
		}
		same = false;
		err = intern_frame(f, fr.func, fr.file, fr.line, &fids[i]);
		if (err)
			return err;
	}
	if (known) {
		node = f->last[known - 1].node;
		h = f->last[known - 1].path;
	}
	f->nlast = known;
	for (i = known; i < depth; i++) {
		paths[i] = h = hash_path(h, fids[i]);
		__builtin_prefetch(&f->edges[h & f->edge_mask]);
	}
	/* a failure halfway leaves frames of no weight behind, which no writer shows */
	for (i = known; i < depth; i++) {
		err = child(f, node, fids[i], paths[i], &node);
		if (err)
			return err;
		f->last[i] = (struct last){ .frame = fids[i], .node = node, .path = paths[i] };
		f->nlast = i + 1;
	}
	__builtin_prefetch(&f->nodes[node]);
	err = add_self(f, node, cid, weight);
	if (err)
		return err;
	f->total += weight;
	if (depth > f->max_depth)
		f->max_depth = depth;
	return 0;
}

double flame__total(const struct flame *f)
{
	return f->total;
}

void flame__set_min_width(struct flame *f, double fraction)
{
	/* dominant causes are weighed down to this width */
	if (f->ready)
		unprepare(f);
	f->min_width = fraction >= 0 && fraction < 1 ? fraction : 0.001;
}

double flame__min_width(const struct flame *f) { return f->min_width; }
const char *flame__title(const struct flame *f) { return f->title; }
const char *flame__unit(const struct flame *f) { return f->unit; }
bool flame__counts(const struct flame *f) { return f->counts; }
int flame__max_depth(const struct flame *f) { return f->max_depth; }

static int prepare(struct flame *f);

int flame__frames(struct flame *f, const struct flame_frame **frames)
{
	int err = prepare(f);

	if (err)
		return err;
	*frames = f->sorted;
	return f->nframes;
}

static const char *suffix(const char *path, const char *suf)
{
	size_t n = strlen(path), m = strlen(suf);

	return n >= m && strcasecmp(path + n - m, suf) == 0 ? path + n - m : NULL;
}

int flame__format_from_path(const char *path, enum flame_format *fmt)
{
	if (!path)
		return -EINVAL;
	if (suffix(path, ".svg"))
		*fmt = FLAME_SVG;
	else if (suffix(path, ".folded") || suffix(path, ".txt"))
		*fmt = FLAME_FOLDED;
	else if (suffix(path, ".json"))
		*fmt = FLAME_SPEEDSCOPE;
	else if (suffix(path, ".pb.gz") || suffix(path, ".pprof"))
		*fmt = FLAME_PPROF;
	else
		return -EINVAL;
	return 0;
}

int flame__write(struct flame *f, enum flame_format fmt, FILE *out)
{
	int err;

	switch (fmt) {
	case FLAME_SVG:
		err = flame_svg__write(f, out);
		break;
	case FLAME_FOLDED:
		err = flame_folded__write(f, out);
		break;
	case FLAME_SPEEDSCOPE:
		err = flame_speedscope__write(f, out);
		break;
	case FLAME_PPROF:
		err = flame_pprof__write(f, out);
		break;
	default:
		return -EINVAL;
	}
	if (!err && (fflush(out) || ferror(out)))
		err = -EIO;
	return err;
}

/* ---- walking ---- */

static int cmp_frames(const struct flame_frame *a, const struct flame_frame *b)
{
	int c = strcmp(a->func, b->func);

	if (c)
		return c;
	if (!a->file || !b->file) {
		if (a->file != b->file)
			return a->file ? 1 : -1;
	} else if ((c = strcmp(a->file, b->file))) {
		return c;
	}
	return a->line < b->line ? -1 : a->line > b->line;
}

static int cmp_frame_ids(const void *a, const void *b, void *ctx)
{
	const struct flame_frame *frames = ctx;

	return cmp_frames(&frames[*(const uint32_t *)a], &frames[*(const uint32_t *)b]);
}

struct ranking {
	const struct node *nodes;
	const uint32_t *rank;	/* of each frame in label order */
};

static int cmp_ranked(const void *a, const void *b, void *ctx)
{
	const struct ranking *r = ctx;
	uint32_t x = r->rank[r->nodes[*(const uint32_t *)a].frame];
	uint32_t y = r->rank[r->nodes[*(const uint32_t *)b].frame];

	return x < y ? -1 : x > y;
}

static double self_of(const struct flame *f, const struct node *n)
{
	double self = n->first;
	uint32_t i;

	for (i = n->more; i != NONE; i = f->cws[i].next)
		self += f->cws[i].weight;
	return self;
}

static void add_causes(const struct flame *f, const struct node *n, double *acc)
{
	uint32_t i;

	if (n->cause != NONE)
		acc[n->cause] += n->first;
	for (i = n->more; i != NONE; i = f->cws[i].next)
		acc[f->cws[i].cause] += f->cws[i].weight;
}

/*
 * Totals and dominant causes in passes over the node array, not walks of the tree: a child
 * always comes after its parent, so a backward pass sums children into parents reading memory
 * in order. Weight by cause is kept only for frames at least the minimum width (what the SVG
 * shows); a narrower frame's weight goes straight to its nearest wide ancestor, whose dominant
 * cause it also takes. Millions of frames then need no millions of cause vectors.
 */
static int sum_up(struct flame *f)
{
	uint32_t n = f->nnodes, nc = f->ncauses, nwide = 0, i, c;
	double min = f->min_width * f->total, *acc = NULL;
	uint32_t *owner = NULL;	/* cause vector of each node: its own, or its wide ancestor's */
	int err = -ENOMEM;

	for (i = 0; i < n; i++)
		f->nodes[i].total = self_of(f, &f->nodes[i]);
	for (i = n - 1; i > 0; i--)
		f->nodes[f->nodes[i].parent].total += f->nodes[i].total;
	if (nc <= 1) {
		memset(f->dominant, 0, n);
		return 0;
	}

	owner = malloc((size_t)n * sizeof(*owner));
	if (!owner)
		goto cleanup;
	for (i = 0; i < n; i++) {
		if (i == 0 || f->nodes[i].total >= min)
			owner[i] = nwide++;
		else
			owner[i] = owner[f->nodes[i].parent];
	}
	acc = calloc((size_t)nwide * nc, sizeof(*acc));
	if (!acc)
		goto cleanup;
	for (i = n - 1; i != NONE; i--) {
		const struct node *nd = &f->nodes[i];
		double *v = acc + (size_t)owner[i] * nc;
		uint8_t best = 0;

		add_causes(f, nd, v);
		if (i && nd->total < min)
			continue;
		/* wide, and everything below it is in: its vector is complete */
		for (c = 1; c < nc; c++)
			if (v[c] > v[best])
				best = c;
		f->dominant[i] = best;
		if (i)
			for (c = 0; c < nc; c++)
				acc[(size_t)owner[nd->parent] * nc + c] += v[c];
	}
	for (i = 1; i < n; i++)
		if (f->nodes[i].total < min)
			f->dominant[i] = f->dominant[f->nodes[i].parent];
	err = 0;
cleanup:
	free(owner);
	free(acc);
	return err;
}

/* Sorted children and dominant causes, for every walk until the next add. */
static int prepare(struct flame *f)
{
	uint32_t *order = NULL, *fill = NULL, i;
	struct ranking r;
	int err = -ENOMEM;

	if (f->ready)
		return 0;
	f->kids = malloc(((size_t)f->nnodes + 1) * sizeof(*f->kids));
	f->kid_off = calloc((size_t)f->nnodes + 1, sizeof(*f->kid_off));
	f->dominant = malloc(f->nnodes);
	order = malloc(((size_t)f->nframes + 1) * sizeof(*order));
	f->rank = malloc(((size_t)f->nframes + 1) * sizeof(*f->rank));
	f->sorted = malloc(((size_t)f->nframes + 1) * sizeof(*f->sorted));
	fill = malloc(((size_t)f->nnodes + 1) * sizeof(*fill));
	if (!f->kids || !f->kid_off || !f->dominant || !order || !f->rank || !f->sorted || !fill)
		goto cleanup;

	/* rank frames once, so siblings sort by an integer instead of three strings */
	for (i = 0; i < f->nframes; i++)
		order[i] = i;
	qsort_r(order, f->nframes, sizeof(*order), cmp_frame_ids, f->frames);
	for (i = 0; i < f->nframes; i++) {
		f->rank[order[i]] = i;
		f->sorted[i] = f->frames[order[i]];
	}
	r = (struct ranking){ .nodes = f->nodes, .rank = f->rank };

	for (i = 1; i < f->nnodes; i++)
		f->kid_off[f->nodes[i].parent + 1]++;
	for (i = 0; i < f->nnodes; i++)
		f->kid_off[i + 1] += f->kid_off[i];
	memcpy(fill, f->kid_off, f->nnodes * sizeof(*fill));
	for (i = 1; i < f->nnodes; i++)
		f->kids[fill[f->nodes[i].parent]++] = i;
	for (i = 0; i < f->nnodes; i++)
		qsort_r(f->kids + f->kid_off[i], f->kid_off[i + 1] - f->kid_off[i],
			sizeof(*f->kids), cmp_ranked, &r);

	err = sum_up(f);
	if (err)
		goto cleanup;
	f->ready = true;
cleanup:
	if (err)
		unprepare(f);
	free(order);
	free(fill);
	return err;
}

struct walk {
	struct flame *f;
	flame_visit_fn fn;
	void *ctx;
	struct flame_share shares[FLAME_MAX_CAUSES];
};

static int visit(struct walk *w, uint32_t node, int depth)
{
	struct flame *f = w->f;
	const struct node *n = &f->nodes[node];
	struct flame_visit v = {
		.frame = &f->frames[n->frame],
		.frame_id = f->rank[n->frame],
		.depth = depth,
		.total = n->total,
		.self = self_of(f, n),
		.cause = f->ncauses ? f->causes[f->dominant[node]] : "other",
		.self_causes = w->shares,
	};
	uint32_t i, k;
	int ret;

	if (n->cause != NONE)
		w->shares[v.nself_causes++] = (struct flame_share){
			.cause = f->causes[n->cause], .weight = n->first };
	for (i = n->more; i != NONE; i = f->cws[i].next)
		w->shares[v.nself_causes++] = (struct flame_share){
			.cause = f->causes[f->cws[i].cause], .weight = f->cws[i].weight };
	ret = w->fn(&v, w->ctx);
	if (ret)
		return ret < 0 ? ret : 0;
	for (k = f->kid_off[node]; k < f->kid_off[node + 1]; k++) {
		ret = visit(w, f->kids[k], depth + 1);
		if (ret)
			return ret;
	}
	return 0;
}

int flame__walk(struct flame *f, flame_visit_fn fn, void *ctx)
{
	struct walk w = { .f = f, .fn = fn, .ctx = ctx };
	uint32_t k;
	int err;

	err = prepare(f);
	if (err)
		return err;
	for (k = f->kid_off[0]; k < f->kid_off[1]; k++) {
		err = visit(&w, f->kids[k], 0);
		if (err)
			return err;
	}
	return 0;
}

const char *flame__cause(struct flame *f)
{
	if (!f->ncauses || prepare(f))
		return "other";
	return f->causes[f->dominant[0]];
}

/* ---- text ---- */

int flame__label(const struct flame_frame *fr, char *buf, size_t size)
{
	if (!fr->file || !fr->file[0])
		return snprintf(buf, size, "%s", fr->func);
	if (!fr->line)
		return snprintf(buf, size, "%s (%s)", fr->func, fr->file);
	return snprintf(buf, size, "%s (%s:%u)", fr->func, fr->file, fr->line);
}

void flame__fmt_weight(const struct flame *f, double w, char *buf, size_t size)
{
	char *p;

	if (f->counts) {
		snprintf(buf, size, "%.0f", w);
		return;
	}
	snprintf(buf, size, "%.3f", w);
	p = strchr(buf, '.');
	if (!p)
		return;
	p += strlen(p) - 1;
	while (*p == '0')
		*p-- = '\0';
	if (*p == '.')
		*p = '\0';
	if (strcmp(buf, "-0") == 0)
		strcpy(buf, "0");
}

/* Length of the valid UTF-8 character at s, 0 if it is not one. */
static int utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	int n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* overlong forms, surrogates and code points past U+10FFFF */
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

void flame__put(FILE *out, const char *s, enum flame_escape esc)
{
	const unsigned char *p = (const unsigned char *)s;

	while (p && *p) {
		int n = utf8_len(p);

		if (n == 0 || *p < 0x20 || *p == 0x7f) {
			putc_unlocked('?', out);
			p++;
			continue;
		}
		if (n > 1) {
			fwrite(p, 1, n, out);
			p += n;
			continue;
		}
		switch (esc == FLAME_ESC_NONE ? 0 : *p) {
		case '&':
			fputs(esc == FLAME_ESC_XML ? "&amp;" : "&", out);
			break;
		case '<':
			fputs(esc == FLAME_ESC_XML ? "&lt;" : "<", out);
			break;
		case '>':
			fputs(esc == FLAME_ESC_XML ? "&gt;" : ">", out);
			break;
		case '"':
			if (esc == FLAME_ESC_XML)
				fputs("&quot;", out);
			else
				fputs(esc == FLAME_ESC_JSON ? "\\\"" : "\"", out);
			break;
		case '\\':
			fputs(esc == FLAME_ESC_JSON ? "\\\\" : "\\", out);
			break;
		case ';':
			/* the folded format's frame separator */
			putc_unlocked(esc == FLAME_ESC_FOLDED ? ':' : ';', out);
			break;
		default:
			putc_unlocked(*p, out);
		}
		p++;
	}
}

size_t flame__clean(const char *s, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = 0;

	if (!size)
		return 0;
	while (p && *p) {
		int n = utf8_len(p);

		if (n == 0 || *p < 0x20 || *p == 0x7f) {
			n = 1;
			if (len + 1 >= size)
				break;
			buf[len++] = '?';
		} else {
			if (len + n >= size)
				break;
			memcpy(buf + len, p, n);
			len += n;
		}
		p += n;
	}
	buf[len] = '\0';
	return len;
}
