// Text of outside origin (a remote model's layer names, a server's status line, file names) must not drive the
// terminal: ANSI escapes could retitle it, erase a line or fake a success message. Platform-neutral.

// C0 controls (tab and newline included: messages are one line), DEL, and C1 controls (U+0080–U+009F, which some
// terminals read as escape introducers, e.g. U+009B as CSI).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** `text` with every control character (C0, DEL, C1, so ESC too) replaced by '?': safe to print on a terminal. */
export function printable(text: string): string {
  return text.replace(CONTROL, '?');
}

/** Whether `text` holds a control character (see {@link printable}). */
export function hasControl(text: string): boolean {
  return /[\u0000-\u001f\u007f-\u009f]/.test(text);
}
