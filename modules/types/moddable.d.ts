// @moddable/typings names its entry points in a "types" array, which TypeScript
// cannot follow, so the device code pulls in exactly the SDK modules it uses.
/// <reference path="../../node_modules/@moddable/typings/xs.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/global.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/timer.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/time.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/_common.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/i2c.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/digital.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/digitalbank.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/analog.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/pwm.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/pulsecount.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/smbus.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/spi.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/serial.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/socket/tcp.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_provider/builtin.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/mc/config.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/preference.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/flash.d.ts" />
