// What startup recovery did, shown once until dismissed: people should know when Boxkeep
// repaired something after a crash, and what it kept for them to look at.
import { useActions, useApp } from '../context.js';
import { Icon } from './icons.js';

const LEVEL_WORD = { repaired: 'Repaired', kept: 'Kept', info: 'Note' } as const;

export function RecoveryBanner() {
  const report = useApp((s) => s.recovery);
  const actions = useActions();
  if (!report || report.items.length === 0) return null;
  const repaired = report.items.filter((i) => i.level === 'repaired').length;
  return (
    <section className="banner recovery" aria-labelledby="recovery-title">
      <div className="banner-body">
        <h2 id="recovery-title" className="banner-title">
          Boxkeep recovered from an interrupted session{repaired ? ` and repaired ${repaired} thing${repaired === 1 ? '' : 's'}` : ''}.
        </h2>
        <ul className="recovery-items">
          {/* The engine's messages already name the box they are about. */}
          {report.items.map((item, i) => (
            <li key={i} className={`recovery-${item.level}`}>
              <strong>{LEVEL_WORD[item.level]}:</strong> {item.message}
            </li>
          ))}
        </ul>
      </div>
      <button type="button" className="icon-button" aria-label="Dismiss the recovery report" title="Dismiss" onClick={actions.dismissRecovery}>
        <Icon name="close" />
      </button>
    </section>
  );
}
