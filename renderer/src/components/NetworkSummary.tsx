// The box's network at a glance: none said plainly, else the forwards, and for one to the
// guest's port 22 the ssh command to copy.
import { useState } from 'react';
import { formatForward, sshCommand, sshForward } from '../../../shared/forwards.js';
import type { Box } from '../../../shared/types.js';

export function NetworkSummary({ box }: { box: Box }) {
  if (box.network === 'none') {
    return (
      <p className="network-summary none" data-testid="network">
        <strong>No network:</strong> this box has no network card.
      </p>
    );
  }
  const ssh = sshForward(box.forwards);
  return (
    <div className="network-summary" data-testid="network">
      <span>
        <strong>Network:</strong> NAT (QEMU user network)
      </span>
      <span>
        <strong>Port forwards:</strong>{' '}
        {box.forwards.length === 0 ? 'none' : box.forwards.map((f) => <code key={formatForward(f)}>{formatForward(f)}</code>)}
      </span>
      {box.cloudInit && (
        <span data-testid="cloud-init">
          <strong>Cloud-init:</strong> user <code>{box.cloudInit.user}</code> (sudo), {box.cloudInit.sshKeys.length} SSH key{box.cloudInit.sshKeys.length === 1 ? '' : 's'}
          {box.cloudInit.password ? ', a password' : ''}, host name <code>{box.cloudInit.hostname}</code>
        </span>
      )}
      {ssh && <CopyCommand command={sshCommand(ssh, box.cloudInit?.user)} />}
    </div>
  );
}

function CopyCommand({ command }: { command: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <span className="copy-command">
      <code data-testid="ssh-command">{command}</code>
      <button
        type="button"
        className="button small"
        onClick={() =>
          void navigator.clipboard?.writeText(command).then(
            () => setCopied(true),
            () => setCopied(false),
          )
        }
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
    </span>
  );
}
