import { formatBytes } from '../../sources/errors';

interface DownloadOfferProps {
  /** What would load: 'GPT-2 medium (openai-community/gpt2-medium)'. */
  label: string;
  bytes: number;
  onDownload: () => void;
  onDismiss: () => void;
}

/** A link named a model that is a big download: nothing moves until the person says so. */
export function DownloadOffer({ label, bytes, onDownload, onDismiss }: DownloadOfferProps) {
  return (
    <div className="notice warn download-offer" role="alert" data-testid="download-offer">
      <p>
        This page was opened to load <strong>{label}</strong>, a {formatBytes(bytes)} download. It has not started; the built-in model is
        loaded meanwhile.
      </p>
      <div className="notice-actions">
        <button type="button" className="secondary small" onClick={onDownload}>
          Download {formatBytes(bytes)}
        </button>
        <button type="button" className="ghost small" onClick={onDismiss}>
          Not now
        </button>
      </div>
    </div>
  );
}
