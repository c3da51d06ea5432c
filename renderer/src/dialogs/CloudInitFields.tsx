// The cloud-init part of the New box dialog: off by default; on, the user to make (with sudo),
// a password (hashed by the engine as soon as it arrives, kept only as that hash), SSH public
// keys pasted one a line, and the guest's host name. Every message is the shared rule's.
import { sshKeysFromText } from '../../../shared/cloud-init.js';
import { Field } from './Field.js';

export interface CloudInitDraft {
  enabled: boolean;
  user: string;
  password: string;
  keys: string;
  hostname: string;
}

export const EMPTY_CLOUD_INIT: CloudInitDraft = { enabled: false, user: '', password: '', keys: '', hostname: '' };

/** The form's names for the channel's fields, so a message reads "User …" under the User field. */
export const CLOUD_INIT_LABELS = { cloudInitUser: 'User', cloudInitPassword: 'Password', cloudInitSshKeys: 'SSH key', cloudInitHostname: 'Host name' };

/** The boxes:create fields of a draft; empty fields are left out (no password: keys only; no host name: the box name). */
export function cloudInitInput(d: CloudInitDraft): Record<string, unknown> {
  if (!d.enabled) return {};
  const keys = sshKeysFromText(d.keys);
  return {
    cloudInitUser: d.user,
    ...(d.password !== '' ? { cloudInitPassword: d.password } : {}),
    ...(keys.length > 0 ? { cloudInitSshKeys: keys } : {}),
    ...(d.hostname.trim() !== '' ? { cloudInitHostname: d.hostname.trim() } : {}),
  };
}

interface Props {
  draft: CloudInitDraft;
  onChange(draft: CloudInitDraft): void;
  problems: Record<string, string>;
  /** Problems show once the user has typed something, as the other fields do. */
  touched: boolean;
  disabled?: boolean;
}

export function CloudInitFields({ draft, onChange, problems, touched, disabled }: Props) {
  const set = (patch: Partial<CloudInitDraft>) => onChange({ ...draft, ...patch });
  const shown = (field: string) => (touched ? problems[field] : null);
  return (
    <fieldset className="cloud-init-fields" disabled={disabled}>
      <legend>Cloud-init</legend>
      <label className="check">
        <input type="checkbox" name="cloud-init" checked={draft.enabled} onChange={(e) => set({ enabled: e.target.checked })} />
        Set up a user with cloud-init at first boot (Debian's genericcloud and other cloud builds)
      </label>
      {draft.enabled && (
        <>
          <Field label="User" name="cloud-init-user" value={draft.user} onChange={(user) => set({ user })} problem={shown('cloudInitUser')} placeholder="e.g. ada" hint="Made with sudo rights." />
          <Field label="Password" name="cloud-init-password" type="password" value={draft.password} onChange={(password) => set({ password })} problem={shown('cloudInitPassword')} hint="Optional. Kept only as a SHA-512 hash." />
          <Field label="SSH keys" name="cloud-init-keys" multiline value={draft.keys} onChange={(keys) => set({ keys })} problem={shown('cloudInitSshKeys')} placeholder="ssh-ed25519 AAAA… you@host" hint="Public keys, one a line (the contents of ~/.ssh/id_ed25519.pub)." />
          <Field label="Host name" name="cloud-init-hostname" value={draft.hostname} onChange={(hostname) => set({ hostname })} problem={shown('cloudInitHostname')} hint="Optional: the box name when empty." />
        </>
      )}
    </fieldset>
  );
}
