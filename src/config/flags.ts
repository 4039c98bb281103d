// Command-line flags derived from the settings table: one commander Option
// per setting, its help text from the descriptor, and the values a user gave
// read back into a RawConfig for resolveConfig.
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { RawConfig } from './config';
import { SETTING_KEYS, defaultShown, settingOf, type Setting, type SettingKey } from './settings';

/** Ports and ranges (8080, 8000-8100), repeatable or comma-separated; their bounds are checked with the config. */
function collectPorts(value: string, previous: string[] | undefined): string[] {
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value)) throw new InvalidArgumentError('expected a port or a range such as 8000-8100 (or a comma-separated list)');
  return [...(previous ?? []), ...value.split(',')];
}

function collectNumbers(value: string, previous: string[] | undefined): string[] {
  if (!/^\d+(,\d+)*$/.test(value)) throw new InvalidArgumentError('expected a number (or a comma-separated list)');
  return [...(previous ?? []), ...value.split(',')];
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The flag as typed, e.g. `--port <n...>`, `--no-tls`, `--command-line`. */
export function flagOf(s: Setting<unknown>): string {
  const f = s.flag;
  switch (f.kind) {
    case 'value':
      return `--${s.name} ${f.arg}`;
    case 'list':
      return `--${f.flag} ${f.arg}`;
    case 'off':
      return `--no-${s.name}`;
    case 'on':
      return `--${s.name}`;
  }
}

/** Help: what it does, its default, the variables that set it. */
export function helpOf(s: Setting<unknown>): string {
  const repeat = s.flag.kind === 'list' ? ' (repeatable)' : '';
  const shownDefault = s.flag.kind === 'off' || s.flag.kind === 'on' ? '' : `; default ${defaultShown(s).replace(/`/g, '')}`;
  return `${s.help}${repeat} [${s.env.join(', ')}${shownDefault}]`;
}

/** Adds every setting's flag to a command; returns how to read them back. */
export function addSettingFlags(cmd: Command): (cmd: Command) => RawConfig {
  const attribute = new Map<SettingKey, string>();
  for (const key of SETTING_KEYS) {
    const s = settingOf(key);
    const o = new Option(flagOf(s), helpOf(s));
    if (s.choices) o.choices(s.choices);
    if (s.flag.kind === 'list') o.argParser(s.flag.check === 'numbers' ? collectNumbers : s.flag.check === 'ports' ? collectPorts : collect);
    cmd.addOption(o);
    attribute.set(key, o.attributeName());
  }
  return (parsed) => {
    const raw: RawConfig = {};
    const values = parsed.opts<Record<string, unknown>>();
    // Only what was typed: commander's own defaults (true for --no-x) are not the user's.
    for (const [key, attr] of attribute) if (parsed.getOptionValueSource(attr) === 'cli') raw[key] = values[attr];
    return raw;
  };
}
