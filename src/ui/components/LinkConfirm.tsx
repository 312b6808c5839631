import { formatBytes } from '../../sources/errors';

interface LinkConfirmProps {
  /** What would load: 'the folder at https://example.org/model/', 'GPT-2 XL (openai-community/gpt2-xl)'. */
  label: string;
  /** The server it would come from: 'example.org:4700'. */
  host: string;
  /** Its download size when known before any request (a preset); null for a folder on another server. */
  bytes: number | null;
  onDownload: () => void;
  onDismiss: () => void;
}

/**
 * A link named a model from another server, or a big one: nothing is requested from that server
 * until the person says yes; the built-in model is loaded meanwhile.
 */
export function LinkConfirm({ label, host, bytes, onDownload, onDismiss }: LinkConfirmProps) {
  return (
    <div className="notice warn download-offer" role="alert" data-testid="link-confirm">
      <p>
        This link asks to load <strong>{label}</strong> from <strong className="hub-url">{host}</strong>
        {bytes === null
          ? ' (its size is known only once the download starts; a download over 1 GB asks again)'
          : `, a ${formatBytes(bytes)} download`}
        . Nothing has been requested from that server; the built-in model is loaded meanwhile. A model from another server can be anything:
        load it only if you trust that server.
      </p>
      <div className="notice-actions">
        <button type="button" className="secondary small" onClick={onDownload}>
          {bytes === null ? `Load from ${host}` : `Download ${formatBytes(bytes)} from ${host}`}
        </button>
        <button type="button" className="ghost small" onClick={onDismiss}>
          Not now
        </button>
      </div>
    </div>
  );
}
