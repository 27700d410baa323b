// Builds the bundled web pages into dist/public: our own files plus the NHS design system's
// compiled CSS and images from the nhsuk-frontend package, and Chart.js for the reports page,
// served by the service itself. Built output is never committed.
// Each page in web/pages/ is its main content, opening with a comment of JSON (its title, and
// for the console and the reports its own service name, home link, scripts and width); web/layout.html gives
// every page the same header, footer and head.
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const web = path.join(root, 'web');
const out = path.join(root, 'dist/public');
const require = createRequire(import.meta.url);
const nhsuk = path.join(path.dirname(require.resolve('nhsuk-frontend/package.json')), 'dist/nhsuk');
// chart.js exports no package.json: its main entry is in dist/, beside the UMD build.
const chartJs = path.dirname(require.resolve('chart.js'));

rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(out, 'css'), { recursive: true });
cpSync(web, out, { recursive: true, filter: (source) => source !== path.join(web, 'pages') && source !== path.join(web, 'layout.html') });
cpSync(path.join(nhsuk, 'nhsuk-frontend.min.css'), path.join(out, 'css/nhsuk-frontend.min.css'));
cpSync(path.join(nhsuk, 'assets'), path.join(out, 'assets'), { recursive: true });
mkdirSync(path.join(out, 'vendor'), { recursive: true });
for (const file of ['chart.umd.min.js', 'chart.umd.min.js.map']) cpSync(path.join(chartJs, file), path.join(out, 'vendor', file));

const layout = readFileSync(path.join(web, 'layout.html'), 'utf8');
for (const file of readdirSync(path.join(web, 'pages'))) {
  const source = readFileSync(path.join(web, 'pages', file), 'utf8');
  const [, json, main] = /^<!-- (\{.*\}) -->\n([\s\S]*)$/.exec(source) ?? [];
  if (!json) throw new Error(`web/pages/${file}: the first line must be <!-- {"title": ...} -->`);
  const page = { service: 'Get help with a health problem', home: '/', script: null, wide: false, ...JSON.parse(json) };
  const fill = {
    TITLE: page.title,
    SERVICE: page.service,
    HOME: page.home,
    WIDTH: page.wide ? ' console-width' : '',
    // Libraries first (classic scripts, such as Chart.js for the reports page), then the page's own module.
    SCRIPT: [...(page.vendor ?? []).map((src) => `<script src="${src}"></script>`), ...(page.script ? [`<script type="module" src="${page.script}"></script>`] : [])].join('\n    '),
    MAIN: `\n${main.trimEnd().replace(/^(?=.)/gm, '        ')}\n      `,
  };
  const name = path.basename(file, '.html');
  const target = path.join(out, name === 'index' ? '' : name, 'index.html');
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(
    target,
    layout.replace(/%([A-Z]+)%/g, (_, key) => fill[key]),
  );
}
