import { describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderUserDataTemplate } from '../../../lib/shared/user-data-template';

function template(text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tpl-')), 'user-data.sh');
  fs.writeFileSync(file, text);
  return file;
}

describe('user-data templates', () => {
  it('replaces the marker with one quoted readonly line per setting', () => {
    expect(renderUserDataTemplate(template('#!/bin/bash\n# @@SETTINGS@@\necho "$A"\n'), { A: "it's", N: 3 })).toBe(
      `#!/bin/bash\nreadonly A='it'"'"'s'\nreadonly N='3'\necho "$A"\n`,
    );
  });

  it('refuses a template without the settings marker, naming the file', () => {
    const file = template('#!/bin/bash\necho hi\n');
    expect(() => renderUserDataTemplate(file, { A: 'x' })).toThrow(`${file} lost its # @@SETTINGS@@ marker`);
  });
});
