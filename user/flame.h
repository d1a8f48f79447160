/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A weighted stack tree for one-shot flamegraph export: stacks are merged frame by frame from
 * the outermost, then written as an interactive SVG, folded text, a speedscope profile or a
 * gzip'd pprof profile. Knows nothing of Python or BPF: frames are plain strings.
 *
 * Units: "samples" weights are counts and print as integers; any other unit ("ms") prints up
 * to 3 decimals. pprof values must be integers: "ms" weights are stored there as microseconds
 * (sample type time/microseconds), "samples" as counts (samples/count). Causes colour the SVG
 * and label pprof samples ("cause"); folded text and speedscope have no place for them.
 */
#ifndef __FLAME_H
#define __FLAME_H

#include <stdbool.h>
#include <stdio.h>

struct flame;

enum flame_format { FLAME_SVG, FLAME_FOLDED, FLAME_SPEEDSCOPE, FLAME_PPROF };

struct flame_frame {
	const char *func;
	const char *file;	/* NULL for a label that is not code (a root label) */
	unsigned line;		/* 0: unknown */
};

#define FLAME_MAX_DEPTH 2048	/* frames in one stack, root label included */
#define FLAME_MAX_CAUSES 32	/* distinct causes kept; later ones are counted as "other" */

struct flame *flame__new(const char *title, const char *unit);
void flame__free(struct flame *f);

/*
 * Add weight to a stack, frames outermost first, under root when it is not NULL (the cause
 * for an off-CPU view, "idle", ...). cause labels the weight for colour ("cpu", "sleep", "net",
 * "disk", "lock", "gc", "preempted", "idle"; NULL is "other"). The strings are copied.
 * Returns 0, -EINVAL (no frame and no root; weight negative, NaN or infinite), -E2BIG (too deep) or
 * -ENOMEM.
 */
int flame__add(struct flame *f, const char *root, const struct flame_frame *frames, int n,
	       const char *cause, double weight);

/* .svg, .folded/.txt, .json (speedscope), .pb.gz/.pprof; -EINVAL for anything else. */
int flame__format_from_path(const char *path, enum flame_format *fmt);
/*
 * Siblings come out sorted by label, so the output depends on what was added, not in which
 * order. Adding more after a write is fine. Returns 0, -ENOMEM, or -EIO when out fails.
 */
int flame__write(struct flame *f, enum flame_format fmt, FILE *out);
double flame__total(const struct flame *f);

/* SVG only: frames narrower than this fraction of the total are left out (default 0.001). */
void flame__set_min_width(struct flame *f, double fraction);

/* ---- For the writers (flame_*.c); callers need none of this. ---- */

struct flame_share {
	const char *cause;
	double weight;
};

/* One merged frame, as flame__walk visits it. */
struct flame_visit {
	const struct flame_frame *frame;
	unsigned frame_id;		/* index in flame__frames(): equal frames, equal id */
	int depth;			/* 0: outermost frame */
	double total;			/* this frame and everything it called */
	double self;			/* stacks that ended here */
	const char *cause;		/* the dominant cause of total; under the minimum
					 * width, that of the nearest wider ancestor */
	const struct flame_share *self_causes;	/* self, split by cause */
	int nself_causes;
};

/*
 * Visit every frame depth first, parents before children, siblings sorted by label. fn
 * returns 0 to go on, 1 to skip the frame's children, negative to stop: walk returns that.
 */
typedef int (*flame_visit_fn)(const struct flame_visit *v, void *ctx);
int flame__walk(struct flame *f, flame_visit_fn fn, void *ctx);

/* Every distinct frame, in label order; returns how many, or -ENOMEM. */
int flame__frames(struct flame *f, const struct flame_frame **frames);
const char *flame__cause(struct flame *f);		/* the dominant cause of all the weight */
int flame__max_depth(const struct flame *f);
const char *flame__title(const struct flame *f);
const char *flame__unit(const struct flame *f);
bool flame__counts(const struct flame *f);		/* unit is "samples": integer weights */
double flame__min_width(const struct flame *f);

/* "func (file:line)", "func (file)" or "func", cut to size; returns the length it needed. */
int flame__label(const struct flame_frame *fr, char *buf, size_t size);
/* A weight as the unit prints it: "12", "12.5", "0.125". */
void flame__fmt_weight(const struct flame *f, double w, char *buf, size_t size);

enum flame_escape { FLAME_ESC_NONE, FLAME_ESC_XML, FLAME_ESC_JSON, FLAME_ESC_FOLDED };
/* Write s as valid UTF-8 (bad bytes and control characters become '?'), escaped. */
void flame__put(FILE *out, const char *s, enum flame_escape esc);
/* The same, into buf (NUL-terminated, cut at a character boundary); returns the length. */
size_t flame__clean(const char *s, char *buf, size_t size);

int flame_svg__write(struct flame *f, FILE *out);
int flame_folded__write(struct flame *f, FILE *out);
int flame_speedscope__write(struct flame *f, FILE *out);
int flame_pprof__write(struct flame *f, FILE *out);

#endif /* __FLAME_H */
