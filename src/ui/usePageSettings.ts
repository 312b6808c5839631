import { useCallback, useMemo, useState } from 'react';
import { SAMPLER_SETTINGS, samplerSettings } from './inspection';
import type { Drafts, NumberSetting, Settings } from './settings';

/**
 * The page's settings and the text of its number boxes. `setDraft` keeps what a box shows while it
 * is typed (or invalid); `applySettings` sets values from elsewhere (the inspector's sliders, a
 * run's or a strategy's settings), so their boxes show the new values; `sliders` are the settings
 * the inspector replays, a new object only when one of them changes.
 */
export function usePageSettings(initial: Settings) {
  const [settings, setSettings] = useState<Settings>(initial);
  /** Number boxes whose text is not the setting's value (being typed, or invalid: then runs wait). */
  const [drafts, setDrafts] = useState<Drafts>({});
  const setDraft = useCallback((setting: NumberSetting, text: string | null) => {
    setDrafts(({ [setting]: _old, ...others }) => (text === null ? others : { ...others, [setting]: text }));
  }, []);
  const applySettings = useCallback((patch: Partial<Pick<Settings, NumberSetting>>) => {
    setSettings((s) => ({ ...s, ...patch }));
    setDrafts((drafts) => Object.fromEntries(Object.entries(drafts).filter(([setting]) => !(setting in patch))));
  }, []);
  const samplerKey = JSON.stringify(SAMPLER_SETTINGS.map((name) => settings[name]));
  const sliders = useMemo(
    () => samplerSettings(Object.fromEntries(SAMPLER_SETTINGS.map((name, i) => [name, JSON.parse(samplerKey)[i]])) as Settings),
    [samplerKey],
  );
  return { settings, setSettings, drafts, setDraft, applySettings, sliders };
}
