import type { Dispatch } from 'react';
import { formatBytes } from '../../sources/errors';
import { choiceLabel, presetBytes, type LoaderAction, type LoaderState, type ModelChoice } from '../modelLoader';
import { DownloadOffer } from './DownloadOffer';
import { HubNotice } from './HubNotice';
import { LinkConfirm } from './LinkConfirm';

interface LoaderNoticesProps {
  loader: LoaderState;
  dispatch: Dispatch<LoaderAction>;
  /** The hub in use ('' = huggingface.co). */
  hubUrl: string;
  /** The person accepted the link's hub: it becomes the hub in use. */
  onHubAccepted: (hub: string) => void;
  onHubReset: () => void;
  /** The model that wrote the outputs on screen when another one has replaced it since (AppState.earlierModel); null otherwise. */
  earlierModel: string | null;
}

/** The model loader's questions (a link's hub, a link's model from elsewhere, a big download), its notice, and whose outputs are on screen. */
export function LoaderNotices({ loader, dispatch, hubUrl, onHubAccepted, onHubReset, earlierModel }: LoaderNoticesProps) {
  const { hubOffer, confirm, offer, notice } = loader;
  return (
    <>
      <HubNotice
        hubUrl={hubUrl}
        offered={hubOffer?.hub ?? null}
        held={hubOffer?.held ? heldText(hubOffer.held) : null}
        onAccept={() => {
          if (hubOffer) onHubAccepted(hubOffer.hub);
          dispatch({ type: 'hub-accepted' });
        }}
        onDismiss={() => dispatch({ type: 'hub-dismissed' })}
        onReset={onHubReset}
      />
      {confirm && (
        <LinkConfirm
          label={choiceLabel(confirm.choice)}
          host={confirm.host}
          bytes={confirm.bytes}
          onDownload={() => dispatch({ type: 'confirm-accepted' })}
          onDismiss={() => dispatch({ type: 'confirm-dismissed' })}
        />
      )}
      {offer && (
        <DownloadOffer
          label={choiceLabel(offer.choice)}
          bytes={offer.bytes}
          onDownload={() => dispatch({ type: 'offer-accepted' })}
          onDismiss={() => dispatch({ type: 'offer-dismissed' })}
        />
      )}
      {earlierModel && (
        <p className="notice" role="status" data-testid="earlier-model">
          The outputs below were written by {earlierModel}, before the model in use now was loaded. Generate to write with it.
        </p>
      )}
      {notice && (
        <p className="notice warn" role="status" data-testid="model-notice">
          {notice}
        </p>
      )}
    </>
  );
}

/** A held model in words, with its size when known before any request. */
function heldText(choice: ModelChoice): string {
  const bytes = presetBytes(choice);
  return bytes === null ? choiceLabel(choice) : `${choiceLabel(choice)}, a ${formatBytes(bytes)} download`;
}
