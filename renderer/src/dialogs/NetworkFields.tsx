// The network part of the New box and Edit box dialogs: nat or none, and the port forwards as a
// list to add to and remove from. Every message comes from the shared parser (shared/forwards.ts),
// so the form refuses exactly what the main process would.
import { useId, useState } from 'react';
import { FORWARD_SYNTAX, formatForward, forwardsProblems, parseForward } from '../../../shared/forwards.js';
import type { NetworkMode } from '../../../shared/types.js';
import { Field } from './Field.js';

interface Props {
  network: NetworkMode;
  onNetwork(network: NetworkMode): void;
  /** Canonical specs (formatForward). */
  forwards: string[];
  onForwards(forwards: string[]): void;
  disabled?: boolean;
}

export function NetworkFields({ network, onNetwork, forwards, onForwards, disabled }: Props) {
  const selectId = useId();
  const [draft, setDraft] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const add = () => {
    const parsed = parseForward(draft);
    if (typeof parsed === 'string') return setProblem(parsed);
    const twice = forwardsProblems([...forwards, draft])[0];
    if (twice) return setProblem(twice);
    onForwards([...forwards, formatForward(parsed)]);
    setDraft('');
    setProblem(null);
  };
  return (
    <fieldset className="network-fields" disabled={disabled}>
      <legend>Network</legend>
      <div className="field">
        <label htmlFor={selectId}>Network</label>
        <select id={selectId} name="box-network" value={network} onChange={(e) => onNetwork(e.target.value as NetworkMode)}>
          <option value="nat">NAT: the guest reaches out through the host (QEMU user network)</option>
          <option value="none">None: no network card at all</option>
        </select>
      </div>
      {network === 'none' && forwards.length > 0 && <p className="field-hint">The forwards below are kept, but unused while the box has no network.</p>}
      <ul className="forward-list" aria-label="Port forwards">
        {forwards.map((spec) => (
          <li key={spec}>
            <code>{spec}</code>
            <button type="button" className="button small" aria-label={`Remove the forward ${spec}`} onClick={() => onForwards(forwards.filter((f) => f !== spec))}>
              Remove
            </button>
          </li>
        ))}
        {forwards.length === 0 && <li className="field-hint">No port forwards.</li>}
      </ul>
      <div className="field-with-button">
        <div
          onKeyDown={(e) => {
            // Enter adds the forward; it must not submit the whole dialog.
            if (e.key === 'Enter') {
              e.preventDefault();
              add();
            }
          }}
        >
          <Field
            label="Add a port forward"
            value={draft}
            onChange={(v) => {
              setDraft(v);
              setProblem(null);
            }}
            problem={problem}
            name="box-forward"
            placeholder="8080:80"
            hint={`${FORWARD_SYNTAX}. The host address is 127.0.0.1 unless given.`}
          />
        </div>
        <button type="button" className="button" onClick={add} disabled={draft.trim() === ''}>
          Add
        </button>
      </div>
    </fieldset>
  );
}
