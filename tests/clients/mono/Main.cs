// Mono's wsdl (.NET SoapHttpClientProtocol proxies) against the sandbox: every operation of every
// SOAP port of every provider. Proxies are generated from the WSDLs the sandbox serves (namespaces
// Sf/Sf12, Xpd, Ms/Ms12); prints one line per call: "<port> <operation> <result>".
//
//   mono client.exe <base-url> <csd.cer> <csd.key> <signed-cancelacion.xml> <uuid>
//   mono client.exe <base-url> fault    a status query on both SOAP ports; prints the fault detail it reads
using System;
using System.IO;

class MainClass {
    const string User = "testing@solucionfactible.com";
    const string Password = "timbrado.SF.16672";
    const string MsId = "0c320b03-d4f1-47bc-9fb4-77995f9bf33e";

    static void Print(string port, string operation, object result) {
        Console.WriteLine(port + " " + operation + " " + result);
    }

    static void Fault(string name, Func<object> call) {
        try {
            call();
            Print(name, "fault", "none");
        } catch (System.Web.Services.Protocols.SoapException ex) {
            var entry = (System.Xml.XmlElement) ex.Detail.FirstChild;
            Print(name, "fault", ex.Message + "|" + entry.NamespaceURI + "|" + entry.LocalName + "|"
                  + entry.GetAttribute("code") + "|" + entry.InnerText);
        }
    }

    static int Main(string[] args) {
        string b = args[0];
        if (args.Length > 1 && args[1] == "fault") {
            var f11 = new Sf.Cancelacion { Url = b + "/ws/services/Cancelacion.CancelacionHttpsSoap11Endpoint/" };
            var f12 = new Sf12.Cancelacion { Url = b + "/ws/services/Cancelacion.CancelacionHttpsSoap12Endpoint/" };
            Fault("CancelacionHttpsSoap11Endpoint", () => f11.getStatusCancelacionAsincrona(User, Password, "C5E58106-6C1E-41C9-A211-FB8BAD1CABB0", null));
            Fault("CancelacionHttpsSoap12Endpoint", () => f12.getStatusCancelacionAsincrona(User, Password, "C5E58106-6C1E-41C9-A211-FB8BAD1CABB0", null));
            return 0;
        }
        byte[] cer = File.ReadAllBytes(args[1]);
        byte[] key = File.ReadAllBytes(args[2]);
        byte[] signed = File.ReadAllBytes(args[3]);
        string uuid = args[4];

        var sf11 = new Sf.Cancelacion { Url = b + "/ws/services/Cancelacion.CancelacionHttpsSoap11Endpoint/" };
        var sf12 = new Sf12.Cancelacion { Url = b + "/ws/services/Cancelacion.CancelacionHttpsSoap12Endpoint/" };
        string one = uuid.Substring(0, 34) + "11";
        string n = "CancelacionHttpsSoap11Endpoint";
        Print(n, "cancelarAsincrono", sf11.cancelarAsincrono(User, Password, one + "|02|", "MOC900101AB1", null, cer, key, "12345678a", null).status);
        Print(n, "getStatusCancelacionAsincrona", sf11.getStatusCancelacionAsincrona(User, Password, one, null).status);
        Print(n, "enviarSolicitudCancelacionAsincrono", sf11.enviarSolicitudCancelacionAsincrono(User, Password, signed, null, null).status);
        Print(n, "cancelar", sf11.cancelar(User, Password, "MOC900101AB1", new[] { one + "|02|" }, cer, key, "12345678a", null).status);
        Print(n, "enviarSolicitudCancelacion", sf11.enviarSolicitudCancelacion(User, Password, signed, null).status);
        Print(n, "cancelarSectorPrimario", sf11.cancelarSectorPrimario(User, Password, one).status);
        one = uuid.Substring(0, 34) + "12";
        n = "CancelacionHttpsSoap12Endpoint";
        Print(n, "cancelarAsincrono", sf12.cancelarAsincrono(User, Password, one + "|02|", "MOC900101AB1", null, cer, key, "12345678a", null).status);
        Print(n, "getStatusCancelacionAsincrona", sf12.getStatusCancelacionAsincrona(User, Password, one, null).status);
        Print(n, "enviarSolicitudCancelacionAsincrono", sf12.enviarSolicitudCancelacionAsincrono(User, Password, signed, null, null).status);
        Print(n, "cancelar", sf12.cancelar(User, Password, "MOC900101AB1", new[] { one + "|02|" }, cer, key, "12345678a", null).status);
        Print(n, "enviarSolicitudCancelacion", sf12.enviarSolicitudCancelacion(User, Password, signed, null).status);
        Print(n, "cancelarSectorPrimario", sf12.cancelarSectorPrimario(User, Password, one).status);

        var xpd = new Xpd.CancelacionPruebas { Url = b + "/cancelacion/CancelacionPruebas" };
        var r = xpd.cancelar("pruebas", "123456", signed);
        Print("CancelacionPruebasPort", "cancelar", r.codEstatus + " " + string.Join(",", r.estatusUUIDs));

        var ms = new Ms.FactWSFront { Url = b + "/factwsfront.asmx" };
        var ms12 = new Ms12.FactWSFront { Url = b + "/factwsfront.asmx" };
        var t = ms.RequestTransaction(MsId, "ASYNC_CONVERT_VERIFY", "MX", "JES900109Q90", MsId, "MX.JES900109Q90.Juan", Guid.NewGuid().ToString(), "", "");
        Print("FactWSFrontSoap", "RequestTransaction", (t.Response.Result ? "true" : "false") + " " + t.Response.Code);
        var t12 = ms12.RequestTransaction(MsId, "ASYNC_CONVERT_VERIFY", "MX", "JES900109Q90", MsId, "MX.JES900109Q90.Juan", Guid.NewGuid().ToString(), "", "");
        Print("FactWSFrontSoap12", "RequestTransaction", (t12.Response.Result ? "true" : "false") + " " + t12.Response.Code);
        return 0;
    }
}
