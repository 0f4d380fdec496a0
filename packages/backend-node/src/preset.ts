// The presets are core's (shared with the browser), under the names this package has always exported.
export {
  checkPreset,
  PRESET_NAMES,
  presetGeometry as geometry,
  presetOptions,
  toGray,
  type PreprocessPreset as PresetName,
} from '@easy-explain/core/internal';
