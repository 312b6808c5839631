import type { AppState } from '../appState';
import { paddedVocabularyNote } from '../../tokenizer/vocabulary';

/** What the page should say about the model it has loaded: a cached copy that was replaced, a padded vocabulary. */
export function ModelNotes({ model }: { model: AppState['model'] }) {
  if (model.status !== 'ready') return null;
  const paddingNote = model.info ? paddedVocabularyNote(model.info.vocabSize) : null;
  return (
    <>
      {model.cacheNote && (
        <p className="notice warn" role="status">
          {model.cacheNote}
        </p>
      )}
      {paddingNote && (
        <p className="notice warn" role="status">
          {paddingNote}
        </p>
      )}
    </>
  );
}
