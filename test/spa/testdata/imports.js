// The SDK's ES modules import a few packages by name; the browser finds them through
// this import map, straight from test/sdk/node_modules (no bundler). redux and immer
// read process.env.NODE_ENV, as bundlers would have replaced it.
window.process = { env: { NODE_ENV: 'production' } };
const nm = '/node_modules/';
const map = document.createElement('script');
map.type = 'importmap';
map.textContent = JSON.stringify({
  imports: {
    '@forgerock/javascript-sdk': nm + '@forgerock/javascript-sdk/dist/index.js',
    '@reduxjs/toolkit': nm + '@reduxjs/toolkit/dist/redux-toolkit.browser.mjs',
    '@reduxjs/toolkit/query': nm + '@reduxjs/toolkit/dist/query/rtk-query.browser.mjs',
    '@standard-schema/utils': nm + '@standard-schema/utils/dist/index.js',
    immer: nm + 'immer/dist/immer.mjs',
    redux: nm + 'redux/dist/redux.mjs',
    'redux-thunk': nm + 'redux-thunk/dist/redux-thunk.mjs',
    reselect: nm + 'reselect/dist/reselect.mjs',
  },
});
document.currentScript.after(map);
