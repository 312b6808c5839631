import { DEFAULT_HUB_URL } from '../../sources/hub';

interface HubNoticeProps {
  /** The hub downloads go to now ('' = huggingface.co). */
  hubUrl: string;
  /** A hub a link asked for, not used until the person confirms it; null when there is none. */
  offered: string | null;
  /** The link's model that waits for the answer, in words with its size when known ("GPT-2 medium (…), a 1.42 GB download"); null when none. */
  held?: string | null;
  onAccept: () => void;
  onDismiss: () => void;
  onReset: () => void;
}

/**
 * Says where model downloads come from whenever it is not huggingface.co, and asks before a
 * link's `hub=` is used: a link alone can never point downloads at another server.
 */
export function HubNotice({ hubUrl, offered, held = null, onAccept, onDismiss, onReset }: HubNoticeProps) {
  if (offered) {
    return (
      <div className="notice warn hub-notice" role="alert" data-testid="hub-offer">
        <p>
          This link asks to download models from <strong className="hub-url">{offered}</strong> instead of {hubUrl || DEFAULT_HUB_URL}. A
          model from another server can be anything: use it only if you trust that server.
          {held && ` The link's model, ${held}, waits for your answer; nothing has been requested from that server.`}
        </p>
        <div className="notice-actions">
          <button type="button" className="secondary small" onClick={onAccept}>
            Download from this server
          </button>
          <button type="button" className="ghost small" onClick={onDismiss}>
            Ignore
          </button>
        </div>
      </div>
    );
  }
  if (!hubUrl) return null;
  return (
    <div className="notice warn hub-notice" role="status" data-testid="hub-in-use">
      <p>
        Hub models download from <strong className="hub-url">{hubUrl}</strong>, not {DEFAULT_HUB_URL}.
      </p>
      <div className="notice-actions">
        <button type="button" className="ghost small" onClick={onReset}>
          Use huggingface.co
        </button>
      </div>
    </div>
  );
}
