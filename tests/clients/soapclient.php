<?php
// PHP SoapClient against the sandbox, built from the WSDL the sandbox serves. Prints JSON.
//
//   php soapclient.php <base-url> sf <1.1|1.2> <uuid>         cancelarAsincrono, then getStatusCancelacionAsincrona
//   php soapclient.php <base-url> xpd <signed-cancelacion.xml>  cancelar (Pruebas)
//   php soapclient.php <base-url> mysuite <1.1|1.2> <guid>      RequestTransaction ASYNC_CONVERT_VERIFY
//
// A SoapFault prints {"fault": ..., "request": ..., "response": ...} and exits 2, so a wire problem
// shows what travelled.

function client(string $wsdl, string $version = '1.1'): SoapClient
{
    return new SoapClient($wsdl, [
        'trace' => true,
        'exceptions' => true,
        'cache_wsdl' => WSDL_CACHE_NONE,
        'soap_version' => $version === '1.2' ? SOAP_1_2 : SOAP_1_1,
        // One-element arrays (Expide Tu Factura's uuids) stay arrays.
        'features' => SOAP_SINGLE_ELEMENT_ARRAYS,
    ]);
}

function wire(SoapClient $c): array
{
    return ['request_headers' => $c->__getLastRequestHeaders(), 'response_headers' => $c->__getLastResponseHeaders()];
}

function out(array $data, int $status = 0): void
{
    echo json_encode($data, JSON_PRETTY_PRINT | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE), PHP_EOL;
    exit($status);
}

[$script, $base, $provider] = $argv + [null, null, null];
$c = null;
try {
    switch ($provider) {
        case 'sf':
            [, , , $version, $uuid] = $argv;
            $c = client("$base/ws/services/Cancelacion?wsdl", $version);
            $user = ['usuario' => 'testing@solucionfactible.com', 'password' => 'timbrado.SF.16672'];
            $cancel = $c->cancelarAsincrono($user + ['uuid' => "$uuid|02|", 'rfcEmisor' => 'MOC900101AB1']);
            $status = $c->getStatusCancelacionAsincrona($user + ['transactionId' => $uuid]);
            out(['cancelarAsincrono' => $cancel, 'getStatusCancelacionAsincrona' => $status] + wire($c));
        case 'xpd':
            [, , , $path] = $argv;
            $c = client("$base/cancelacion/CancelacionPruebas?wsdl");
            // xmlBytes is base64Binary: SoapClient encodes the raw bytes itself.
            $r = $c->cancelar(['usuario' => 'pruebas', 'token' => '123456', 'xmlBytes' => file_get_contents($path)]);
            out(['cancelar' => $r] + wire($c));
        case 'mysuite':
            [, , , $version, $guid] = $argv;
            $c = client("$base/mx.com.fact.wsfront/factwsfront.asmx?wsdl", $version);
            $id = '0c320b03-d4f1-47bc-9fb4-77995f9bf33e';
            $r = $c->RequestTransaction([
                'Requestor' => $id, 'Transaction' => 'ASYNC_CONVERT_VERIFY', 'Country' => 'MX',
                'Entity' => 'JES900109Q90', 'User' => $id, 'UserName' => 'MX.JES900109Q90.Juan',
                'Data1' => $guid, 'Data2' => '', 'Data3' => '',
            ]);
            out(['RequestTransaction' => $r] + wire($c));
        default:
            fwrite(STDERR, "usage: php soapclient.php <base-url> sf|xpd|mysuite ...\n");
            exit(64);
    }
} catch (SoapFault $f) {
    out([
        'fault' => $f->getMessage(),
        'request' => $c ? $c->__getLastRequest() : null,
        'response' => $c ? $c->__getLastResponse() : null,
    ], 2);
}
