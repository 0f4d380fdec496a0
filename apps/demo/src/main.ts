import { VERSION } from '@easy-explain/backend-web';

const app = document.querySelector('#app');
if (app) app.textContent = `easy-explain ${VERSION}`;
