import { useState } from 'react';

/** What the page's address asked for that could not be used as it was, until dismissed. */
export function AddressNotice({ changes }: { changes: string[] }) {
  const [dismissed, setDismissed] = useState(false);
  if (dismissed || changes.length === 0) return null;
  return (
    <div className="notice warn" role="status" data-testid="address-notice">
      <p>This page&apos;s address asked for settings it cannot use as they were, so it changed them:</p>
      <ul>
        {changes.map((change) => (
          <li key={change}>{change}</li>
        ))}
      </ul>
      <div className="notice-actions">
        <button type="button" className="ghost small" onClick={() => setDismissed(true)}>
          Dismiss
        </button>
      </div>
    </div>
  );
}
