// Builds the bundled web pages into dist/public: our own files plus the NHS design system's
// compiled CSS and images from the nhsuk-frontend package, and Chart.js for the reports page,
// served by the service itself. Built output is never committed.
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const out = path.join(root, 'dist/public');
const require = createRequire(import.meta.url);
const nhsuk = path.join(path.dirname(require.resolve('nhsuk-frontend/package.json')), 'dist/nhsuk');
// chart.js exports no package.json: its main entry is in dist/, beside the UMD build.
const chartJs = path.dirname(require.resolve('chart.js'));

rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(out, 'css'), { recursive: true });
mkdirSync(path.join(out, 'vendor'), { recursive: true });
cpSync(path.join(root, 'web'), out, { recursive: true });
cpSync(path.join(nhsuk, 'nhsuk-frontend.min.css'), path.join(out, 'css/nhsuk-frontend.min.css'));
cpSync(path.join(nhsuk, 'assets'), path.join(out, 'assets'), { recursive: true });
for (const file of ['chart.umd.min.js', 'chart.umd.min.js.map']) cpSync(path.join(chartJs, file), path.join(out, 'vendor', file));
