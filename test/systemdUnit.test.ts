import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from './support/server.js';

// installers/llmsvc.service is a template: install.sh fills in its @...@ placeholders. systemd's
// own tools check the result offline (no running systemd needed): the unit parses, and its
// sandboxing scores "OK" or better in `systemd-analyze security`.
const template = fs.readFileSync(path.resolve(import.meta.dirname, '../installers/llmsvc.service'), 'utf8');
const haveSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

function renderUnit(prefix: string, dataDir: string, userLines: string, wantedBy: string): string {
  return template
    .replaceAll('@PREFIX@', prefix)
    .replaceAll('@DATA_DIR@', dataDir)
    .replaceAll('@WANTED_BY@', wantedBy)
    .replaceAll('@OFFLINE@', 'true')
    .replace(/^@USER_LINES@\n/m, userLines ? `${userLines}\n` : '');
}

test('the hardened systemd unit parses and scores OK in systemd-analyze security', { skip: !haveSystemdAnalyze && !process.env.CI && 'systemd-analyze is not installed' }, () => {
  const prefix = tempDir('llmsvc-unit-');
  fs.mkdirSync(path.join(prefix, 'bin'));
  fs.writeFileSync(path.join(prefix, 'bin', 'llmsvc'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const unit = path.join(prefix, 'llmsvc.service');
  fs.writeFileSync(unit, renderUnit(prefix, path.join(prefix, 'data'), 'User=llmsvc\nGroup=llmsvc', 'multi-user.target'));
  assert.doesNotMatch(fs.readFileSync(unit, 'utf8'), /@[A-Z_]+@/, 'every placeholder is filled in');

  const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
  assert.equal(verify.status, 0, verify.stderr);
  assert.equal(verify.stderr.trim(), '', `systemd-analyze verify warned: ${verify.stderr}`);

  const security = execFileSync('systemd-analyze', ['security', '--offline=true', unit], { encoding: 'utf8' });
  const exposure = /Overall exposure level for llmsvc\.service: ([\d.]+)/.exec(security);
  assert.ok(exposure, security);
  // systemd rates ≤ 4.9 as "OK" (5.0–6.9 MEDIUM, above that EXPOSED/UNSAFE); a plain service scores 9.6.
  assert.ok(Number(exposure[1]) <= 4.9, `exposure ${exposure[1]} is above systemd's OK band`);
  for (const setting of ['NoNewPrivileges=true', 'ProtectSystem=strict', `ReadWritePaths=${path.join(prefix, 'data')}`]) {
    assert.ok(fs.readFileSync(unit, 'utf8').includes(setting), setting);
  }
});
