// The HTML report of a batch output folder: one self-contained index.html (inline CSS and JS, data inline as JSON)
// that links only to files inside the folder, so it opens from the file system with no network. It is rebuilt from
// the image folders on disk (image.json in each), so any number of processes may have filled the folder.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { IMAGE_RECORD, IMAGES_DIR, type ImageRecord } from './batch.js';
import { VERSION } from './version.js';

/** An image that could not be explained, as the report lists it. */
export interface ReportFailure {
  source: string;
  code: string;
  message: string;
}

/** Failures of a batch run, kept beside the report so a later report build (e.g. after --resume) still shows them. */
export const FAILURES_FILE = 'failures.json';

/** Reads every finished image folder (those with image.json) under outDir/images, sorted by source. */
export async function readImageRecords(outDir: string): Promise<ImageRecord[]> {
  const imagesDir = join(resolve(outDir), IMAGES_DIR);
  let entries: string[];
  try {
    entries = await readdir(imagesDir);
  } catch {
    return [];
  }
  const records: ImageRecord[] = [];
  for (const entry of entries) {
    if (entry.startsWith('.')) continue; // partial folders of images in progress
    try {
      records.push(JSON.parse(await readFile(join(imagesDir, entry, IMAGE_RECORD), 'utf8')) as ImageRecord);
    } catch {
      // Not an image folder of ours.
    }
  }
  return records.sort((a, b) => a.source.localeCompare(b.source));
}

async function readFailures(outDir: string): Promise<ReportFailure[]> {
  try {
    return JSON.parse(await readFile(join(resolve(outDir), FAILURES_FILE), 'utf8')) as ReportFailure[];
  } catch {
    return [];
  }
}

/** JSON that is safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const STYLE = `
*{box-sizing:border-box}body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#f6f6f6}
header{padding:12px 16px;background:#fff;border-bottom:1px solid #ddd;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
h1{font-size:18px;margin:0}label{display:flex;gap:6px;align-items:center}
#grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px;padding:16px}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px;cursor:pointer}
.card:hover,.card:focus{outline:2px solid #3a6ea5}.card img{width:100%;display:block}
.card h2{font-size:13px;margin:6px 0;word-break:break-all}.card ol{margin:0;padding-left:20px;font-size:12px}
.conf{font-variant-numeric:tabular-nums;color:#555}
#detail{position:fixed;inset:0;background:rgba(0,0,0,.55);display:flex;align-items:flex-start;justify-content:center;overflow:auto;padding:24px}
#detail[hidden]{display:none}#panel{background:#fff;border-radius:6px;padding:16px;max-width:100%}
#panel table{border-collapse:collapse}#panel td,#panel th{border:1px solid #ddd;padding:6px;vertical-align:top}
#panel img{max-width:520px;display:block;margin-bottom:4px}#failures{padding:0 16px 16px}
`;

// The page's script: filters by predicted class, sorts by confidence or name, opens an image's figures.
// Wrapped in a function: a page script's top-level names would clash with window's (top, open, …).
const SCRIPT = `(() => {
'use strict';
const data = JSON.parse(document.getElementById('report-data').textContent);
const grid = document.getElementById('grid');
const filter = document.getElementById('filter');
const sort = document.getElementById('sort');
const detail = document.getElementById('detail');
const panel = document.getElementById('panel');
const el = (tag, props, ...kids) => { const e = Object.assign(document.createElement(tag), props); e.append(...kids); return e; };
const path = (key, file) => 'images/' + encodeURIComponent(key) + '/' + file.split('/').map(encodeURIComponent).join('/');
const best = (img) => img.predictions[0];
for (const label of [...new Set(data.images.map((i) => best(i).label))].sort()) filter.append(el('option', { value: label, textContent: label }));
function render() {
  let list = data.images.filter((i) => !filter.value || best(i).label === filter.value);
  const by = sort.value;
  list = list.slice().sort((a, b) => by === 'name' ? a.source.localeCompare(b.source) : (by === 'confidence-asc' ? 1 : -1) * (best(a).percentage - best(b).percentage));
  grid.replaceChildren(...list.map((img) => {
    const first = img.runs[0];
    const card = el('div', { className: 'card', tabIndex: 0 },
      el('img', { src: path(img.key, first.figures[0]), alt: img.source, loading: 'lazy' }),
      el('h2', { textContent: img.source.split('/').pop() }),
      el('ol', {}, ...img.predictions.map((p) => el('li', {}, p.label + ' ', el('span', { className: 'conf', textContent: p.percentage.toFixed(2) + '%' })))));
    card.dataset.key = img.key;
    card.dataset.label = best(img).label;
    card.dataset.confidence = String(best(img).percentage);
    card.onclick = () => show(img);
    card.onkeydown = (e) => { if (e.key === 'Enter') show(img); };
    return card;
  }));
  document.getElementById('count').textContent = list.length + ' of ' + data.images.length + ' images';
}
function show(img) {
  const methods = [...new Set(img.runs.map((r) => r.method))];
  const targets = [...new Set(img.runs.map((r) => r.target))];
  const head = el('tr', {}, el('th', { textContent: 'target' }), ...methods.map((m) => el('th', { textContent: m })));
  const rows = targets.map((t) => el('tr', {}, el('th', { textContent: t + ' ' + img.runs.find((r) => r.target === t).targetLabel }),
    ...methods.map((m) => {
      const run = img.runs.find((r) => r.target === t && r.method === m);
      if (!run) return el('td', {});
      const links = el('div', {}, el('a', { href: path(img.key, run.attribution), textContent: 'attribution.npy' }), ' · ',
        el('a', { href: path(img.key, run.dir + '/explanation.json'), textContent: 'explanation.json' }));
      return el('td', {}, ...run.figures.map((f) => el('img', { src: path(img.key, f), alt: m + ' ' + f })),
        ...(run.metrics ? [el('img', { src: path(img.key, run.metrics), alt: 'metrics' })] : []), links);
    })));
  panel.replaceChildren(el('button', { id: 'close', textContent: 'Close', onclick: () => (detail.hidden = true) }),
    el('h2', { textContent: img.source }), el('p', { textContent: img.width + '×' + img.height + ' px, sha256 ' + img.sha256.slice(0, 12) }),
    el('table', {}, head, ...rows));
  detail.hidden = false;
}
detail.onclick = (e) => { if (e.target === detail) detail.hidden = true; };
document.onkeydown = (e) => { if (e.key === 'Escape') detail.hidden = true; };
filter.onchange = render;
sort.onchange = render;
render();
document.body.dataset.ready = 'true';
})();
`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The report page of these images and failures: one HTML document, nothing loaded from outside its folder. */
export function reportHtml(images: ImageRecord[], failures: ReportFailure[] = [], title = 'easy-explain report'): string {
  const failed = failures.length
    ? `<section id="failures"><h2>${failures.length} image(s) failed</h2><ul>${failures
        .map((f) => `<li><code>${escapeHtml(f.source)}</code>: ${escapeHtml(f.code)}: ${escapeHtml(f.message)}</li>`)
        .join('')}</ul></section>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self' file:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<span id="count"></span>
<label>Predicted class <select id="filter"><option value="">all</option></select></label>
<label>Sort <select id="sort"><option value="confidence-desc">confidence, highest first</option><option value="confidence-asc">confidence, lowest first</option><option value="name">name</option></select></label>
<small>easy-explain-ts ${VERSION}</small>
</header>
<main id="grid"></main>
${failed}
<div id="detail" hidden><div id="panel"></div></div>
<script type="application/json" id="report-data">${scriptJson({ images })}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** Writes outDir/index.html from the image folders in outDir (and failures.json if present); returns its path. */
export async function writeReport(outDir: string, options: { title?: string } = {}): Promise<{ path: string; images: number; failures: number }> {
  const images = await readImageRecords(outDir);
  const failures = await readFailures(outDir);
  const path = join(resolve(outDir), 'index.html');
  await writeFile(path, reportHtml(images, failures, options.title));
  return { path, images: images.length, failures: failures.length };
}
