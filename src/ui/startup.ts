/**
 * What the page opens with: the settings from its address and the last visit's storage, what the
 * address asked for that could not be used, and what the model loader starts from.
 */
import { initialSettings, linkHub, settingsFromStorage, STORAGE_KEY, type Settings } from './settings';
import type { LoaderStartup } from './modelLoader';

export interface Startup {
  settings: Settings;
  /** What the address asked for that could not be used as it was (a value out of range, an unknown backend). */
  addressChanges: string[];
  /** The model localStorage keeps until a model has loaded: a model that never loaded is never stored. */
  storedModel: string;
  loader: LoaderStartup;
}

function readStorage(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled: settings still work, they just do not persist
  }
}

/** Reads the address (`search`) and localStorage as the page opens. */
export function readStartup(search: string, pageUrl: string): Startup {
  const stored = readStorage();
  const addressChanges: string[] = [];
  const settings = initialSettings(search, stored, addressChanges);
  return {
    settings,
    addressChanges,
    storedModel: settingsFromStorage(stored).model,
    loader: {
      model: settings.model,
      hubUrl: settings.hubUrl,
      fromLink: new URLSearchParams(search).has('model'),
      linkHub: linkHub(search, settings),
      pageUrl,
      precision: settings.precision,
    },
  };
}
