// Native dialogs and notifications; the words come from shell/.
import { dialog, Notification, type BrowserWindow } from 'electron';
import type { Notice } from '../shell/quick-snapshot.js';
import type { QuitChoice, QuitQuestion } from '../shell/quit.js';

export async function askQuit(question: QuitQuestion, parent: BrowserWindow | null): Promise<QuitChoice> {
  const options = { type: 'question' as const, message: question.message, detail: question.detail, buttons: question.buttons, defaultId: question.defaultId, cancelId: question.cancelId, noLink: true };
  const { response } = parent ? await dialog.showMessageBox(parent, options) : await dialog.showMessageBox(options);
  return question.choices[response] ?? 'cancel';
}

export function notify(notice: Notice, icon?: string): void {
  if (!Notification.isSupported()) return;
  new Notification({ title: notice.title, body: notice.body, icon, urgency: notice.kind === 'failure' ? 'critical' : 'normal' }).show();
}

export function showError(title: string, message: string): void {
  dialog.showErrorBox(title, message);
}
