// The one way user-data scripts are rendered: a plain, shellcheck-able bash file with a
// `# @@SETTINGS@@` line that becomes `readonly NAME='value'` lines. Values may be CDK tokens.
import * as fs from 'node:fs';

/** Single-quotes a value for bash; CDK tokens never contain quotes. */
export function shellQuote(value: string | number): string {
  return `'${String(value).replace(/'/g, `'"'"'`)}'`;
}

export function renderUserDataTemplate(templatePath: string, settings: Record<string, string | number>): string {
  const template = fs.readFileSync(templatePath, 'utf8');
  if (!template.includes('# @@SETTINGS@@')) throw new Error(`${templatePath} lost its # @@SETTINGS@@ marker`);
  const block = Object.entries(settings)
    .map(([name, value]) => `readonly ${name}=${shellQuote(value)}`)
    .join('\n');
  return template.replace('# @@SETTINGS@@', block);
}
