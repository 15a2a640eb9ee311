// The Moddable SDK's modules as device code sees them (@moddable/typings names
// its files in a way tsc cannot follow, so they are listed here), and the
// ECMA-419 sensor drivers, which xsedge declares.
/// <reference path="../node_modules/@moddable/typings/xs.d.ts" />
/// <reference path="../node_modules/@moddable/typings/global.d.ts" />
/// <reference path="../node_modules/@moddable/typings/timer.d.ts" />
/// <reference path="../node_modules/@moddable/typings/time.d.ts" />
/// <reference path="../node_modules/@moddable/typings/embedded_io/_common.d.ts" />
/// <reference path="../node_modules/@moddable/typings/embedded_io/i2c.d.ts" />
/// <reference path="../node_modules/@moddable/typings/embedded_io/digital.d.ts" />
/// <reference path="../node_modules/@moddable/typings/embedded_io/smbus.d.ts" />
/// <reference path="../node_modules/@moddable/typings/embedded_provider/builtin.d.ts" />
/// <reference path="../node_modules/@moddable/typings/preference.d.ts" />
/// <reference path="../node_modules/xsedge/modules/types/embedded-sensor.d.ts" />
