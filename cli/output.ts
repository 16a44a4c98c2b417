// How the CLI talks to people and scripts: results on stdout (text or --json), one error line on stderr
// (JSON with --json), and progress only where someone is watching (a terminal), never into a pipe.
import { CliError, ERROR_KIND, ExitCode } from './errors';
import type { CliContext } from './context';

export function printJson(ctx: CliContext, value: unknown): void {
  ctx.out(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
}

/** Prints `error` as `k3s-daas: <message>`, or with `json` as `{"error": {kind, exitCode, message, reason?}}`. */
export function reportError(ctx: CliContext, error: CliError, json: boolean): void {
  const message = oneLine(error.message);
  if (!json) {
    ctx.err(`k3s-daas: ${message}\n`);
    return;
  }
  const body: Record<string, unknown> = { kind: ERROR_KIND[error.exitCode] ?? ERROR_KIND[ExitCode.Failure], exitCode: error.exitCode, message };
  if (error.reason !== undefined) body.reason = error.reason;
  ctx.err(`${JSON.stringify({ error: body })}\n`);
}

/** Prints a warning the user should see even when output goes to a pipe. */
export function warn(ctx: CliContext, message: string): void {
  ctx.err(`k3s-daas: warning: ${oneLine(message)}\n`);
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

export interface Progress {
  /** Replaces what the line says we are waiting for. */
  update(text: string): void;
  /** Clears the line; a final `text` stays on it (e.g. "done"). */
  done(text?: string): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_MS = 100;
/** The elapsed time is shown once a wait is long enough for the user to wonder. */
const SHOW_ELAPSED_AFTER_MS = 2_000;
const CLEAR_LINE = '\r\x1b[2K';

const SILENT: Progress = { update: () => undefined, done: () => undefined };

/** A spinner line on a terminal saying what we wait for, with the elapsed time; nothing on a pipe. */
export function startProgress(ctx: CliContext, text: string): Progress {
  if (!ctx.errIsTTY || ctx.env.TERM === 'dumb') return SILENT;
  const started = Date.now();
  let frame = 0;
  let current = text;
  const draw = () => {
    const elapsed = Date.now() - started;
    const suffix = elapsed >= SHOW_ELAPSED_AFTER_MS ? ` (${Math.floor(elapsed / 1000)} s)` : '';
    ctx.err(`${CLEAR_LINE}${FRAMES[frame++ % FRAMES.length]} ${current}${suffix}`);
  };
  draw();
  const timer = setInterval(draw, FRAME_MS);
  timer.unref();
  return {
    update(next) {
      current = next;
      draw();
    },
    done(final) {
      clearInterval(timer);
      ctx.err(final === undefined ? CLEAR_LINE : `${CLEAR_LINE}${final}\n`);
    },
  };
}

/** Runs `task` with a progress line saying `text`; the line is cleared however `task` ends. */
export async function withProgress<T>(ctx: CliContext, text: string, task: () => Promise<T>): Promise<T> {
  const progress = startProgress(ctx, text);
  try {
    return await task();
  } finally {
    progress.done();
  }
}
