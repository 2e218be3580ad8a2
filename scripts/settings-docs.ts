// Writes the settings table of docs/configuration.md and .env.example from src/settings.ts,
// the one list of settings (`npm run docs:settings`). A unit test compares
// both files with what this would write, so they can't drift.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SETTINGS, type Setting } from '../src/settings.js';

const ROOT = join(import.meta.dirname, '..');
export const SETTINGS_DOC_PATH = join(ROOT, 'docs', 'configuration.md');
export const ENV_EXAMPLE_PATH = join(ROOT, '.env.example');
const TABLE_START = '<!-- settings: generated from src/settings.ts by `npm run docs:settings` -->';
const TABLE_END = '<!-- /settings -->';

const entries = () => Object.entries(SETTINGS) as [string, Setting][];
const shownDefault = ({ default: value, shown }: Setting) =>
  shown ?? (value === undefined ? 'unset' : `\`${String(value)}\``);

export function settingsTable(): string {
  const rows = entries().map(([name, setting]) => `| \`${name}\` | ${shownDefault(setting)} | ${setting.meaning} |`);
  return [TABLE_START, '| setting | default | meaning |', '|---|---|---|', ...rows, TABLE_END].join('\n');
}

/** The settings page with its table as this list says. */
export function withSettingsTable(page: string): string {
  const start = page.indexOf(TABLE_START);
  const end = page.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`docs/configuration.md has no ${TABLE_START} … ${TABLE_END} section`);
  return page.slice(0, start) + settingsTable() + page.slice(end + TABLE_END.length);
}

function comment(text: string): string[] {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.split(/\s+/)) {
    if (line.length + word.length + 1 > 78 && line !== '#') {
      lines.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  return [...lines, line];
}

export function envExample(): string {
  const header = [
    '# Every setting the service reads, with its default (generated from',
    '# src/settings.ts by `npm run docs:settings`). The service reads the',
    '# environment only; load this file with your process manager or shell.',
  ];
  const blocks = entries().map(([name, setting]) => {
    const line = setting.default === undefined ? `# ${name}=` : `${name}=${String(setting.default)}`;
    return [...comment(setting.meaning), line].join('\n');
  });
  return [header.join('\n'), ...blocks].join('\n\n') + '\n';
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  writeFileSync(SETTINGS_DOC_PATH, withSettingsTable(readFileSync(SETTINGS_DOC_PATH, 'utf8')));
  writeFileSync(ENV_EXAMPLE_PATH, envExample());
  console.log('docs/configuration.md settings table and .env.example written from src/settings.ts');
}
