import { useEffect } from 'react';
import { settingsToSearch, settingsToStorage, STORAGE_KEY, type Settings } from './settings';

/**
 * Keeps the address (a link reproduces the run) and localStorage (a reload keeps it) in step with
 * the settings. The model is stored only once one has loaded (`modelLoaded`): until then storage
 * keeps the last visit's (`storedModel`), so a model that never loaded is never stored.
 */
export function usePersistedSettings(settings: Settings, modelLoaded: boolean, storedModel: string): void {
  useEffect(() => {
    history.replaceState(history.state, '', settingsToSearch(settings) + location.hash);
    try {
      localStorage.setItem(STORAGE_KEY, settingsToStorage(modelLoaded ? settings : { ...settings, model: storedModel }));
    } catch {
      // Private mode or storage full: the URL still carries the settings.
    }
  }, [settings, modelLoaded, storedModel]);
}
