// The format check in `npm run lint`: prettier --check on the files already in prettier's shape,
// listed in package.json "prettierAllowList". The tree is formatted once, as one change, after the
// branches in flight have merged; then this checks every file and the list goes.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const { prettierAllowList } = JSON.parse(readFileSync('package.json', 'utf8'));
const result = spawnSync('npx', ['prettier', '--check', ...prettierAllowList], { stdio: 'inherit' });
process.exit(result.status ?? 1);
