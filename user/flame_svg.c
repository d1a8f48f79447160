// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A self-contained interactive flamegraph: plain SVG that renders without script (in an <img>
 * or a viewer), plus an embedded script for a browser: hover details, click to zoom, a search
 * box (regex, or substring when the regex does not compile) that highlights matches and sums
 * their share, reset. Frames are coloured by the dominant cause of their subtree. Frames under
 * the minimum width are left out, their weight still counted in their parent, so a million
 * samples make a file of a few thousand rectangles.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "flame.h"

#define WIDTH 1200
#define PAD 10
#define FRAME_H 16
#define FONT 12
#define CHAR_W 7.2	/* monospace advance at FONT px: 0.6 em */
#define TOP 84		/* title, controls and legend above the frames */
#define BOTTOM 30	/* the details line below them */

struct colour {
	const char *cause;
	const char *legend;
	uint8_t r, g, b;	/* the darkest shade; frames vary up to +spread */
	uint8_t dr, dg, db;
};

/* fixed, so the same cause has the same colour in every graph */
static const struct colour palette[] = {
	{ "cpu", "on-CPU", 225, 110, 30, 30, 70, 30 },
	{ "sleep", "sleep", 60, 120, 205, 35, 50, 35 },
	{ "net", "net", 130, 80, 195, 35, 35, 35 },
	{ "disk", "disk", 140, 90, 50, 35, 30, 25 },
	{ "lock", "lock", 200, 30, 30, 40, 40, 30 },
	{ "gc", "gc", 60, 165, 70, 40, 45, 40 },
	{ "preempted", "preempted", 135, 135, 135, 30, 30, 30 },
	{ "idle", "idle", 205, 205, 205, 25, 25, 25 },
	{ "other", "other", 40, 170, 165, 35, 40, 40 },
};
#define NPALETTE (sizeof(palette) / sizeof(palette[0]))
#define OTHER (NPALETTE - 1)

struct svg {
	struct flame *f;
	FILE *out;
	double total, min;
	int levels;		/* rows of frames, the "all" row included */
	bool used[NPALETTE];
	double cursor[FLAME_MAX_DEPTH + 1];	/* weight left of the next frame, per depth */
	char label[4096];
	char clean[4096];
};

static const struct colour *colour_of(const char *cause)
{
	size_t i;

	for (i = 0; i < OTHER; i++)
		if (strcmp(palette[i].cause, cause) == 0)
			return &palette[i];
	return &palette[OTHER];
}

/* A shade from the function name: neighbours differ, the same function looks the same. */
static void fill(const char *cause, const char *func, char *buf, size_t size)
{
	const struct colour *c = colour_of(cause);
	uint32_t h = 2166136261u;
	double v;

	for (; *func; func++)
		h = (h ^ (unsigned char)*func) * 16777619u;
	v = (h % 1000) / 1000.0;
	snprintf(buf, size, "#%02x%02x%02x", c->r + (int)(c->dr * v), c->g + (int)(c->dg * v),
		 c->b + (int)(c->db * v));
}

static int measure(const struct flame_visit *v, void *ctx)
{
	struct svg *s = ctx;

	if (v->total < s->min)
		return 1;
	if (v->depth + 2 > s->levels)
		s->levels = v->depth + 2;
	s->used[colour_of(v->cause) - palette] = true;
	return 0;
}

/* Characters of a UTF-8 string, and the byte offset where character n starts. */
static size_t chars(const char *s, size_t n, size_t *at)
{
	size_t count = 0, i;

	for (i = 0; s[i]; i++) {
		if (((unsigned char)s[i] & 0xc0) == 0x80)
			continue;
		if (count == n)
			*at = i;
		count++;
	}
	if (count <= n)
		*at = i;
	return count;
}

static void frame(struct svg *s, const char *label, const char *func, const char *cause,
		  int depth, double x, double total)
{
	double w = total / s->total * (WIDTH - 2 * PAD);
	double px = PAD + x / s->total * (WIDTH - 2 * PAD);
	double y = TOP + (s->levels - 1 - depth) * FRAME_H;
	int fit = (int)((w - 6) / CHAR_W);
	char colour[16], weight[64];
	size_t len, cut;

	fill(cause, func, colour, sizeof(colour));
	flame__fmt_weight(s->f, total, weight, sizeof(weight));
	fputs("<g><title>", s->out);
	flame__put(s->out, label, FLAME_ESC_XML);
	fprintf(s->out, "\n%s %s (%.2f%%), ", weight, flame__unit(s->f), 100 * total / s->total);
	flame__put(s->out, cause, FLAME_ESC_XML);
	fprintf(s->out, "</title><rect x=\"%.2f\" y=\"%.0f\" width=\"%.2f\" height=\"%d\" "
		"fill=\"%s\"/>", px, y, w, FRAME_H - 1, colour);
	/* the script writes the text of narrow frames when a zoom makes room for it */
	if (fit >= 3) {
		flame__clean(label, s->clean, sizeof(s->clean));
		len = chars(s->clean, fit, &cut);
		fprintf(s->out, "<text x=\"%.2f\" y=\"%.1f\">", px + 3, y + FRAME_H - 4.5);
		if ((int)len > fit) {
			chars(s->clean, fit - 2, &cut);
			s->clean[cut] = '\0';
			flame__put(s->out, s->clean, FLAME_ESC_XML);
			fputs("..", s->out);
		} else {
			flame__put(s->out, s->clean, FLAME_ESC_XML);
		}
		fputs("</text>", s->out);
	}
	fputs("</g>\n", s->out);
}

static int emit(const struct flame_visit *v, void *ctx)
{
	struct svg *s = ctx;
	double x = s->cursor[v->depth];

	s->cursor[v->depth] += v->total;
	if (v->total < s->min)
		return 1;
	s->cursor[v->depth + 1] = x;
	flame__label(v->frame, s->label, sizeof(s->label));
	frame(s, s->label, v->frame->func, v->cause, v->depth + 1, x, v->total);
	return 0;
}

static const char style[] =
	"<style>\n"
	"text{font-family:monospace;font-size:12px;fill:#000}\n"
	"#frames text{pointer-events:none}\n"
	"#frames g{cursor:pointer}\n"
	"#frames g:hover rect{stroke:#000;stroke-width:.5}\n"
	"#frames g.p rect{opacity:.55}\n"
	".btn{cursor:pointer;fill:#225;text-decoration:underline}\n"
	"#title{font-size:17px;text-anchor:middle}\n"
	"#matched{text-anchor:end}\n"
	"</style>\n";

/* Frames are in depth-first order: a frame's subtree is the run of deeper frames after it. */
static const char script[] =
	"<script type=\"text/ecmascript\"><![CDATA[\n"
	"'use strict';\n"
	"var W=1200,PAD=10,CW=7.2,NS='http://www.w3.org/2000/svg',HL='#e600e6';\n"
	"var fr=[],byG=new Map(),zoomed=-1,unzoom,details,matched,search;\n"
	"function fit(f,w){var n=Math.floor((w-6)/CW);\n"
	" if(n<3){if(f.t)f.t.textContent='';return}\n"
	" if(!f.t){f.t=document.createElementNS(NS,'text');f.g.appendChild(f.t)}\n"
	" f.t.setAttribute('x',(+f.r.getAttribute('x')+3).toFixed(2));\n"
	" f.t.setAttribute('y',(f.y+11.5).toFixed(1));\n"
	" var l=Array.from(f.label);\n"
	" f.t.textContent=l.length<=n?f.label:l.slice(0,n-2).join('')+'..'}\n"
	"function place(f,x,w,show,cls){f.g.style.display=show?'':'none';if(!show)return;\n"
	" f.r.setAttribute('x',x.toFixed(2));f.r.setAttribute('width',w.toFixed(2));\n"
	" f.g.setAttribute('class',cls);fit(f,w)}\n"
	"function zoom(i){var z=fr[i],s=(W-2*PAD)/z.w,a=new Set();\n"
	" for(var p=z.parent;p>=0;p=fr[p].parent)a.add(p);\n"
	" fr.forEach(function(f,j){\n"
	"  if(j>=i&&j<=z.end)place(f,PAD+(f.x-z.x)*s,f.w*s,true,'');\n"
	"  else place(f,PAD,W-2*PAD,a.has(j),'p')});\n"
	" zoomed=i;unzoom.setAttribute('visibility',i>0?'visible':'hidden')}\n"
	"function reset(){zoom(0)}\n"
	"function find(term){var re=null,sum=0;\n"
	" if(term){try{re=new RegExp(term)}catch(e){\n"
	"  re=new RegExp(term.replace(/[.*+?^${}()|[\\]\\\\]/g,'\\\\$&'))}}\n"
	" fr.forEach(function(f){f.m=!!re&&re.test(f.label);\n"
	"  f.r.setAttribute('fill',f.m?HL:f.fill);\n"
	"  var p=f.parent,up=false;for(;p>=0&&!up;p=fr[p].parent)up=fr[p].m;\n"
	"  if(f.m&&!up)sum+=f.w});\n"
	" matched.textContent=re?'Matched: '+(100*sum/fr[0].w).toFixed(2)+'%':''}\n"
	"function show(f){var t=f.title.split('\\n');details.textContent=t[0]+'  \\u2014  '+t[1]}\n"
	"function init(){var gs=document.getElementById('frames').children,stack=[];\n"
	" unzoom=document.getElementById('unzoom');details=document.getElementById('details');\n"
	" matched=document.getElementById('matched');search=document.getElementById('search');\n"
	" for(var i=0;i<gs.length;i++){var g=gs[i],r=g.querySelector('rect'),\n"
	"  title=g.querySelector('title').textContent,\n"
	"  f={g:g,r:r,t:g.querySelector('text'),title:title,label:title.split('\\n')[0],\n"
	"   x:+r.getAttribute('x'),w:+r.getAttribute('width'),y:+r.getAttribute('y'),\n"
	"   fill:r.getAttribute('fill'),end:i,m:false};\n"
	"  f.depth=-f.y;\n"
	"  while(stack.length&&fr[stack[stack.length-1]].depth>=f.depth)stack.pop();\n"
	"  f.parent=stack.length?stack[stack.length-1]:-1;\n"
	"  stack.forEach(function(p){fr[p].end=i});stack.push(i);fr.push(f);byG.set(g,i)}\n"
	" var box=document.getElementById('frames');\n"
	" box.addEventListener('click',function(e){var g=e.target.closest('g');\n"
	"  if(byG.has(g))zoom(byG.get(g))});\n"
	" box.addEventListener('mouseover',function(e){var g=e.target.closest('g');\n"
	"  if(byG.has(g))show(fr[byG.get(g)])});\n"
	" box.addEventListener('mouseout',function(){details.textContent=' '});\n"
	" unzoom.addEventListener('click',reset);\n"
	" search.addEventListener('input',function(){find(search.value)});\n"
	" window.addEventListener('keydown',function(e){\n"
	"  if((e.ctrlKey||e.metaKey)&&e.key==='f'){e.preventDefault();search.focus()}\n"
	"  else if(e.key==='Escape'){search.value='';find('');reset()}})}\n"
	"window.addEventListener('load',init);\n"
	"]]></script>\n";

static void legend(struct svg *s)
{
	double x = PAD;
	size_t i;

	for (i = 0; i < NPALETTE; i++) {
		const struct colour *c = &palette[i];

		if (i == OTHER && !s->used[i])
			break;
		fprintf(s->out, "<rect x=\"%.0f\" y=\"62\" width=\"12\" height=\"12\" "
			"fill=\"#%02x%02x%02x\"/><text x=\"%.0f\" y=\"72\">%s</text>\n", x,
			c->r + c->dr / 2, c->g + c->dg / 2, c->b + c->db / 2, x + 16, c->legend);
		x += 16 + strlen(c->legend) * CHAR_W + 18;
	}
}

int flame_svg__write(struct flame *f, FILE *out)
{
	struct svg *s = calloc(1, sizeof(*s));
	int height, err;

	if (!s)
		return -ENOMEM;
	s->f = f;
	s->out = out;
	s->total = flame__total(f);
	s->min = s->total * flame__min_width(f);
	s->levels = 1;
	err = s->total > 0 ? flame__walk(f, measure, s) : 0;
	if (err)
		goto cleanup;
	height = TOP + s->levels * FRAME_H + BOTTOM;

	fprintf(out, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"xmlns=\"http://www.w3.org/2000/svg\">\n", WIDTH, height, WIDTH, height);
	fputs(style, out);
	fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"#f8f8f4\"/>\n"
		"<text id=\"title\" x=\"%d\" y=\"24\">", WIDTH / 2);
	flame__put(out, *flame__title(f) ? flame__title(f) : "Flame graph", FLAME_ESC_XML);
	fprintf(out, "</text>\n"
		"<text id=\"unzoom\" class=\"btn\" x=\"%d\" y=\"50\" visibility=\"hidden\">"
		"Reset Zoom</text>\n"
		"<foreignObject x=\"%d\" y=\"34\" width=\"240\" height=\"22\">"
		"<input xmlns=\"http://www.w3.org/1999/xhtml\" id=\"search\" type=\"search\" "
		"placeholder=\"Search (regex), Ctrl-F\" style=\"width:230px;font:12px monospace\"/>"
		"</foreignObject>\n"
		"<text id=\"matched\" x=\"%d\" y=\"50\"></text>\n",
		PAD, WIDTH - PAD - 240 - 130, WIDTH - PAD);
	legend(s);
	fprintf(out, "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n", PAD, height - 10);

	fputs("<g id=\"frames\">\n", out);
	if (s->total > 0) {
		frame(s, "all", "all", flame__cause(f), 0, 0, s->total);
		err = flame__walk(f, emit, s);
		if (err)
			goto cleanup;
	} else {
		fprintf(out, "<text x=\"%d\" y=\"%d\">no samples</text>\n", PAD, TOP + 12);
	}
	fputs("</g>\n", out);
	fputs(script, out);
	fputs("</svg>\n", out);
cleanup:
	free(s);
	return err;
}
