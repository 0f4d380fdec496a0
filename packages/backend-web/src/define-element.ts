// `import '@easy-explain/backend-web/element'` registers <easy-explain-view>: this module's only job is that side
// effect (declared in package.json's sideEffects, so bundlers keep it).
import { defineEasyExplainView } from './element.js';

defineEasyExplainView();
