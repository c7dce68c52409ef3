// JAX-WS (wsimport) against the sandbox: every operation of every provider's port, with MTOM on
// where the provider's stack reads it (Solución Factible's Axis2, Expide Tu Factura's CXF).
// Built from the WSDLs the sandbox serves; prints one line per call: "<port> <operation> <result>".
//
//   java Main <base-url> <csd.cer> <csd.key> <signed-cancelacion.xml> <uuid>
//   java Main <base-url> fault      a status query on both SOAP ports; prints the fault detail it reads
import java.nio.file.Files;
import java.nio.file.Path;
import java.net.URL;
import java.util.List;
import javax.xml.ws.soap.MTOMFeature;

public class Main {
    static final String USER = "testing@solucionfactible.com";
    static final String PASSWORD = "timbrado.SF.16672";
    static final String MS_ID = "0c320b03-d4f1-47bc-9fb4-77995f9bf33e";

    public static void main(String[] args) throws Exception {
        String base = args[0];
        if (args.length > 1 && args[1].equals("fault")) {
            faults(base);
            return;
        }
        byte[] cer = Files.readAllBytes(Path.of(args[1]));
        byte[] key = Files.readAllBytes(Path.of(args[2]));
        byte[] signed = Files.readAllBytes(Path.of(args[3]));
        String uuid = args[4];

        sf.Cancelacion sfService = new sf.Cancelacion(new URL(base + "/ws/services/Cancelacion?wsdl"));
        String[] names = {"CancelacionHttpsSoap11Endpoint", "CancelacionHttpsSoap12Endpoint", "CancelacionHttpsEndpoint"};
        sf.CancelacionPortType[] ports = {
            sfService.getCancelacionHttpsSoap11Endpoint(new MTOMFeature(true)),
            sfService.getCancelacionHttpsSoap12Endpoint(new MTOMFeature(true)),
            sfService.getCancelacionHttpsEndpoint(),
        };
        // The HTTP-binding port has no SOAP address, so JAX-WS needs it given; it posts SOAP 1.1 there.
        ((javax.xml.ws.BindingProvider) ports[2]).getRequestContext().put(
            javax.xml.ws.BindingProvider.ENDPOINT_ADDRESS_PROPERTY,
            base + "/ws/services/Cancelacion.CancelacionHttpsEndpoint/");
        for (int i = 0; i < ports.length; i++) {
            sf.CancelacionPortType p = ports[i];
            String n = names[i];
            String one = uuid.substring(0, 34) + String.format("%02X", i);
            print(n, "cancelarAsincrono", p.cancelarAsincrono(USER, PASSWORD, one + "|02|", "MOC900101AB1",
                null, cer, key, "12345678a", null).getStatus());
            print(n, "getStatusCancelacionAsincrona", p.getStatusCancelacionAsincrona(USER, PASSWORD, one, null).getStatus());
            print(n, "enviarSolicitudCancelacionAsincrono",
                p.enviarSolicitudCancelacionAsincrono(USER, PASSWORD, signed, null, null).getStatus());
            print(n, "cancelar", p.cancelar(USER, PASSWORD, "MOC900101AB1", List.of(one + "|02|"), cer, key,
                "12345678a", null).getStatus());
            print(n, "enviarSolicitudCancelacion", p.enviarSolicitudCancelacion(USER, PASSWORD, signed, null).getStatus());
            print(n, "cancelarSectorPrimario", p.cancelarSectorPrimario(USER, PASSWORD, one).getStatus());
        }

        xpd.CancelacionPruebas xpdPort = new xpd.CancelacionPruebas_Service(
            new URL(base + "/cancelacion/CancelacionPruebas?wsdl")).getCancelacionPruebasPort(new MTOMFeature(true));
        xpd.RespuestaCancelacion r = xpdPort.cancelar("pruebas", "123456", signed);
        print("CancelacionPruebasPort", "cancelar", r.getCodEstatus() + " " + String.join(",", r.getEstatusUUIDs()));

        // ASMX reads no MTOM: MYSuite's ports without it, as a Java client of an ASMX service runs.
        ms.FactWSFront msService = new ms.FactWSFront(new URL(base + "/factwsfront.asmx?wsdl"));
        ms.FactWSFrontSoap[] msPorts = {msService.getFactWSFrontSoap(), msService.getFactWSFrontSoap12()};
        String[] msNames = {"FactWSFrontSoap", "FactWSFrontSoap12"};
        for (int i = 0; i < msPorts.length; i++) {
            ms.TransactionTag t = msPorts[i].requestTransaction(MS_ID, "ASYNC_CONVERT_VERIFY", "MX", "JES900109Q90",
                MS_ID, "MX.JES900109Q90.Juan", java.util.UUID.randomUUID().toString(), "", "");
            print(msNames[i], "RequestTransaction", t.getResponse().isResult() + " " + t.getResponse().getCode());
        }
    }

    static void faults(String base) throws Exception {
        sf.Cancelacion service = new sf.Cancelacion(new URL(base + "/ws/services/Cancelacion?wsdl"));
        sf.CancelacionPortType[] ports = {service.getCancelacionHttpsSoap11Endpoint(), service.getCancelacionHttpsSoap12Endpoint()};
        String[] names = {"CancelacionHttpsSoap11Endpoint", "CancelacionHttpsSoap12Endpoint"};
        for (int i = 0; i < ports.length; i++) {
            try {
                ports[i].getStatusCancelacionAsincrona(USER, PASSWORD, "C5E58106-6C1E-41C9-A211-FB8BAD1CABB0", null);
                print(names[i], "fault", "none");
            } catch (javax.xml.ws.soap.SOAPFaultException e) {
                javax.xml.soap.SOAPFault fault = e.getFault();
                java.util.Iterator<?> entries = fault.getDetail().getDetailEntries();
                javax.xml.soap.DetailEntry entry = (javax.xml.soap.DetailEntry) entries.next();
                print(names[i], "fault", fault.getFaultString() + "|" + entry.getNamespaceURI() + "|"
                    + entry.getLocalName() + "|" + entry.getAttribute("code") + "|" + entry.getTextContent());
            }
        }
    }

    static void print(String port, String operation, Object result) {
        System.out.println(port + " " + operation + " " + result);
    }
}
