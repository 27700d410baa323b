// Builds the bundled web pages into dist/public: our own files plus the NHS design system's
// compiled CSS and images from the nhsuk-frontend package. Built output is never committed.
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const out = path.join(root, 'dist/public');
const nhsuk = path.join(path.dirname(createRequire(import.meta.url).resolve('nhsuk-frontend/package.json')), 'dist/nhsuk');

rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(out, 'css'), { recursive: true });
cpSync(path.join(root, 'web'), out, { recursive: true });
cpSync(path.join(nhsuk, 'nhsuk-frontend.min.css'), path.join(out, 'css/nhsuk-frontend.min.css'));
cpSync(path.join(nhsuk, 'assets'), path.join(out, 'assets'), { recursive: true });
